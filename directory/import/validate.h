// Validation of imported records: the field rules (ValidateCustomer, ValidateWorker; see
// directory/import.h for the list) and ValidatingSink, which checks each record a reader
// produces, optionally finds duplicate customer_ids and worker identities, and passes valid
// records on. Thread-safety: the functions are pure; a ValidatingSink is used by one thread.
#ifndef FRONTLINE_DIRECTORY_IMPORT_VALIDATE_H_
#define FRONTLINE_DIRECTORY_IMPORT_VALIDATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "directory/customer.h"
#include "directory/import/record_sink.h"

namespace frontline {

// Checks one customer against the rules in directory/import.h; false with `reason` (no
// location) otherwise.
bool ValidateCustomer(const Customer& customer, std::string* reason);
// Checks one worker; false with `reason` otherwise.
bool ValidateWorker(const Worker& worker, std::string* reason);

// The customer_ids seen so far with where each was first seen, for the duplicate check: an
// open-addressing table over one arena of ids, so a million ids cost a few allocations rather
// than a million (about 60 bytes per customer plus the id itself).
class IdSet {
 public:
  // Adds `id` seen at `where`; false (with `first` set) when it was already there.
  bool Insert(std::string_view id, const Location& where, Location* first);

 private:
  struct Entry {
    uint64_t hash;
    size_t offset;
    size_t length;
    Location where;
  };

  static uint64_t Hash(std::string_view s);
  void Grow();

  std::vector<uint32_t> slots_;  // 0 = empty, else entries_ index + 1
  std::vector<Entry> entries_;
  std::string arena_;
};

// Validates records and passes the valid ones to `next`; the first invalid one fails with
// "where: reason". Every field's UTF-8 is checked: the file readers check their raw bytes, but
// RapidJSON turns an escaped lone low surrogate ("\udc00") into bytes that are not UTF-8. `find_duplicates`: keep the ids seen (IdSet)
// and refuse a second customer_id or worker identity ("duplicate customer_id \"x\" (first at
// file:line)").
class ValidatingSink : public RecordSink {
 public:
  ValidatingSink(RecordSink* next, bool find_duplicates)
      : next_(next), find_duplicates_(find_duplicates) {}

  bool AddCustomer(Customer&& customer, const Location& where, std::string* error) override;
  bool AddWorker(Worker&& worker, const Location& where, std::string* error) override;

  size_t customers() const { return customers_; }
  size_t workers() const { return workers_; }

 private:
  RecordSink* next_;
  bool find_duplicates_;
  size_t customers_ = 0;
  size_t workers_ = 0;
  IdSet customer_ids_;
  std::unordered_set<std::string> worker_ids_;
};

// Drops every record (the validation pass has nowhere to write).
class DiscardingSink : public RecordSink {
 public:
  bool AddCustomer(Customer&&, const Location&, std::string*) override { return true; }
  bool AddWorker(Worker&&, const Location&, std::string*) override { return true; }
};

// Keeps the records in memory (ParseImportData); either vector may be null. Never fails.
class CollectingSink : public RecordSink {
 public:
  CollectingSink(std::vector<Customer>* customers, std::vector<Worker>* workers)
      : customers_(customers), workers_(workers) {}

  bool AddCustomer(Customer&& customer, const Location&, std::string*) override {
    if (customers_ != nullptr) customers_->push_back(std::move(customer));
    return true;
  }
  bool AddWorker(Worker&& worker, const Location&, std::string*) override {
    if (workers_ != nullptr) workers_->push_back(std::move(worker));
    return true;
  }

 private:
  std::vector<Customer>* customers_;
  std::vector<Worker>* workers_;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_VALIDATE_H_
