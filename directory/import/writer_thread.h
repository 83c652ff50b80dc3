// Runs an ImportWriter on its own thread, fed batches of records (512) through a small bounded
// queue (8 batches): parsing/validation and the database then use two cores, and the records in
// flight are bounded by the batch sizes whatever the size of the input. The first writer error
// stops the import (reported by Add*/Finish); nothing is committed here.
// Thread-safety: Add*/Finish/writer_failed from one thread (the reader's); the writer is only
// used on the helper thread until Finish returns.
#ifndef FRONTLINE_DIRECTORY_IMPORT_WRITER_THREAD_H_
#define FRONTLINE_DIRECTORY_IMPORT_WRITER_THREAD_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "directory/import/import_writer.h"
#include "directory/import/record_sink.h"

namespace frontline {

class WriterThread : public RecordSink {
 public:
  explicit WriterThread(ImportWriter* writer) : writer_(writer), thread_([this] { Run(); }) {}

  ~WriterThread() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool AddCustomer(Customer&& customer, const Location&, std::string* error) override {
    if (current_.customers.empty()) current_.customers.reserve(kBatchSize);
    current_.customers.push_back(std::move(customer));
    return current_.customers.size() < kBatchSize || Submit(error);
  }
  bool AddWorker(Worker&& worker, const Location&, std::string* error) override {
    current_.workers.push_back(std::move(worker));
    return current_.workers.size() < kBatchSize || Submit(error);
  }

  // True once the writer failed (a database error, not the input's).
  bool writer_failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }

  // Waits until everything submitted is written. False with `error` on a writer failure.
  bool Finish(std::string* error) {
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

 private:
  static constexpr size_t kBatchSize = 512;
  static constexpr size_t kMaxQueued = 8;

  struct Batch {
    std::vector<Customer> customers;
    std::vector<Worker> workers;
  };

  bool Submit(std::string* error) {
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

  void Run() {
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

  ImportWriter* writer_;
  Batch current_;  // being filled by the parsing thread
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::deque<Batch> spent_;  // written, to be freed by the parsing thread
  bool done_ = false;        // no more batches will come
  bool stop_ = false;        // abandon the queue (destruction)
  bool finished_ = false;    // the writer thread is done
  bool failed_ = false;
  std::string error_;
  std::thread thread_;  // last: starts after the members above exist
};

// The import of one run: validation, duplicate checks across files, statistics; feeds the
// pipeline.
// The customer_ids seen so far with where each was first seen, for the duplicate check: an
// open-addressing table over one arena of ids, so a million ids cost a few allocations rather

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_WRITER_THREAD_H_
