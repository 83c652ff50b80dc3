// The interface the import readers (JSON, CSV, the seed demo) push records into, and where a
// record came from ("file:line" or "customers[N]"). Readers only parse; validation, duplicate
// checks and writing are sinks chained behind them (validate.h, writer_thread.h).
// Thread-safety: a sink is used by one thread at a time; Location is a plain value.
#ifndef FRONTLINE_DIRECTORY_IMPORT_RECORD_SINK_H_
#define FRONTLINE_DIRECTORY_IMPORT_RECORD_SINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "directory/customer.h"

namespace frontline {

// Where a record starts: "file:line", or "customers[N]" for in-memory records (index set).
// `source` must outlive the Location.
struct Location {
  const std::string* source = nullptr;
  size_t line = 0;
  bool index = false;

  std::string ToString() const {
    return index ? *source + "[" + std::to_string(line) + "]"
                 : *source + ":" + std::to_string(line);
  }
};

// Receives records in input order. A false return stops the reader, which passes `error`
// (already "where: reason" or a database error) up unchanged.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual bool AddCustomer(Customer&& customer, const Location& where, std::string* error) = 0;
  virtual bool AddWorker(Worker&& worker, const Location& where, std::string* error) = 0;
};

// Called by readers every 1024 records or so with the bytes of the current file read so far.
using ReadProgress = std::function<void(uint64_t bytes_read)>;

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_RECORD_SINK_H_
