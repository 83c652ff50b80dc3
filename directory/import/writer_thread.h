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

  ~WriterThread() override;

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
  bool Finish(std::string* error);

 private:
  static constexpr size_t kBatchSize = 512;
  static constexpr size_t kMaxQueued = 8;

  struct Batch {
    std::vector<Customer> customers;
    std::vector<Worker> workers;
  };

  // Queues the batch being filled (waiting while the queue is full).
  bool Submit(std::string* error);

  void Run();  // the helper thread

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
