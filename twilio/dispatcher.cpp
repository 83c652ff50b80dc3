#include "twilio/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace frontline {

OutboxDispatcher::OutboxDispatcher(SqliteEventStore* store, RestClient* client,
                                   DispatcherOptions options)
    : store_(store), client_(client), options_(std::move(options)) {}

OutboxDispatcher::~OutboxDispatcher() { Stop(); }

void OutboxDispatcher::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  store_->SetEnqueueListener([this] { Wake(); });
  thread_ = std::thread([this] { Loop(); });
}

void OutboxDispatcher::Stop() {
  if (!thread_.joinable()) return;
  store_->SetEnqueueListener(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    wake_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::string error;
  if (!store_->ReleaseLeases(&error)) ReportError(error);
}

void OutboxDispatcher::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void OutboxDispatcher::ReportError(const std::string& error) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_error) options_.on_error(error);
}

int OutboxDispatcher::RunOnce() { return Deliver(std::nullopt); }

int OutboxDispatcher::DeliverDue() { return Deliver(store_->NowMs()); }

int OutboxDispatcher::Deliver(std::optional<int64_t> due_by) {
  int delivered = 0;
  while (!stop_.load()) {
    std::string error;
    std::optional<OutboxRow> row = store_->Claim(&error, due_by);
    if (!row) {
      if (!error.empty()) ReportError(error);
      break;
    }
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
    RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, poll, [this] { return wake_ || stop_.load(); });
    wake_ = false;
  }
}

}  // namespace frontline
