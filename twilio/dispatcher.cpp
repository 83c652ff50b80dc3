#include "twilio/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace frontline {

OutboxDispatcher::OutboxDispatcher(EventStore* store, RestClient* client, DispatcherOptions options)
    : store_(store),
      client_(client),
      options_(std::move(options)),
      concurrency_(std::clamp(options_.concurrency, 1, 64)) {}

OutboxDispatcher::~OutboxDispatcher() { Stop(); }

void OutboxDispatcher::Start() {
  if (!threads_.empty()) return;
  stop_.store(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_ = 0;
  }
  store_->SetEnqueueListener([this] { Wake(); });
  for (int i = 0; i < concurrency_; ++i) threads_.emplace_back([this] { Loop(); });
}

void OutboxDispatcher::Stop() {
  if (threads_.empty()) return;
  store_->SetEnqueueListener(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  std::string error;
  if (!store_->ReleaseLeases(&error)) ReportError(error);
}

void OutboxDispatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tokens_ < concurrency_) ++tokens_;
  }
  cv_.notify_one();
}

void OutboxDispatcher::ReportError(const std::string& error) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_error) options_.on_error(error);
}

int OutboxDispatcher::RunOnce() { return Deliver(std::nullopt, false); }

int64_t OutboxDispatcher::PurgeExpired() {
  last_purge_ms_.store(store_->NowMs());
  int64_t purged = 0;
  for (int i = 0; i < 20; ++i) {
    std::string error;
    const int64_t n = store_->PurgeDone(500, &error);
    if (n < 0) {
      ReportError(error);
      break;
    }
    purged += n;
    if (n < 500) break;
  }
  return purged;
}

int OutboxDispatcher::DeliverDue() {
  const int delivered = DeliverDueJobs();
  PurgeExpired();
  return delivered;
}

int OutboxDispatcher::DeliverDueJobs() {
  const int64_t due_by = store_->NowMs();
  if (concurrency_ == 1) return Deliver(due_by, false);
  std::atomic<int> delivered{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrency_; ++i) {
    threads.emplace_back([this, due_by, &delivered] { delivered += Deliver(due_by, false); });
  }
  for (std::thread& thread : threads) thread.join();
  return delivered.load();
}

int OutboxDispatcher::Deliver(std::optional<int64_t> due_by, bool wake_others) {
  int delivered = 0;
  while (!stop_.load()) {
    std::string error;
    std::optional<OutboxRow> row = store_->Claim(&error, due_by);
    if (!row) {
      if (!error.empty()) ReportError(error);
      break;
    }
    // More may be due (a burst, or jobs of other processes found by a poll): an idle worker
    // looks too, so the burst is worked through `concurrency` at a time.
    if (wake_others) Wake();
    // Stop does not interrupt a delivery: it is finished and recorded before the thread exits.
    Delivery delivery = DeliverJob(row->job, client_);
    switch (delivery.outcome) {
      case Outcome::kDone:
        done_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Outcome::kRetry:
        retried_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Outcome::kFailed:
        failed_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    if (!store_->Finish(*row, delivery, &error)) ReportError(error);
    if (options_.on_delivery) options_.on_delivery(*row, delivery);
    ++delivered;
  }
  return delivered;
}

void OutboxDispatcher::Loop() {
  const auto poll = std::chrono::milliseconds(std::max(1, options_.poll_interval_ms));
  while (!stop_.load()) {
    Deliver(std::nullopt, true);
    // One worker purges when it is time (whoever swaps last_purge_ms_ first).
    int64_t last = last_purge_ms_.load();
    const int64_t now = store_->NowMs();
    if (now - last >= options_.purge_interval_ms &&
        last_purge_ms_.compare_exchange_strong(last, now)) {
      PurgeExpired();
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, poll, [this] { return tokens_ > 0 || stop_.load(); });
    if (tokens_ > 0) --tokens_;
  }
}

}  // namespace frontline
