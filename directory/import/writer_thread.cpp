#include "directory/import/writer_thread.h"

namespace frontline {

WriterThread::~WriterThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool WriterThread::Finish(std::string* error) {
  if (!Submit(error)) return false;
  std::unique_lock<std::mutex> lock(mu_);
  done_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return finished_; });
  if (failed_) {
    *error = error_;
    return false;
  }
  return true;
}

bool WriterThread::Submit(std::string* error) {
  std::deque<Batch> spent;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.size() < kMaxQueued || failed_; });
  // Written batches are freed here, on the thread that allocated them: glibc's allocator is
  // much slower when memory is freed on another thread.
  spent.swap(spent_);
  if (failed_) {
    *error = error_;
    return false;
  }
  if (!current_.customers.empty() || !current_.workers.empty()) {
    queue_.push_back(std::move(current_));
    current_ = Batch();
    cv_.notify_all();
  }
  return true;
}

void WriterThread::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return !queue_.empty() || done_; });
    if (stop_ || (queue_.empty() && done_)) break;
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    lock.unlock();
    std::string error;
    bool ok = true;
    for (const Customer& c : batch.customers) {
      if (!(ok = writer_->AddCustomer(c, &error))) break;
    }
    for (size_t i = 0; ok && i < batch.workers.size(); ++i) {
      ok = writer_->AddWorker(batch.workers[i], &error);
    }
    lock.lock();
    spent_.push_back(std::move(batch));
    if (!ok) {
      failed_ = true;
      error_ = error;
      queue_.clear();
      cv_.notify_all();
      break;
    }
  }
  finished_ = true;
  cv_.notify_all();
}

}  // namespace frontline
