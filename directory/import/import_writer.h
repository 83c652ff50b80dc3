// The interface an import writes validated records through, one per database backend
// (sqlite_writer.h today; a PostgreSQL one can follow). The import calls Begin once it has
// validated every input, then AddCustomer/AddWorker for each record, then Commit; Abort (or
// destruction without Commit) leaves the database unchanged. Everything between Begin and
// Commit is one transaction. Thread-safety: one thread at a time (the import's writer thread).
#ifndef FRONTLINE_DIRECTORY_IMPORT_IMPORT_WRITER_H_
#define FRONTLINE_DIRECTORY_IMPORT_IMPORT_WRITER_H_

#include <string>

#include "directory/customer.h"

namespace frontline {

class ImportWriter {
 public:
  virtual ~ImportWriter() = default;
  // Starts the transaction and takes the write lock (waiting as the backend does); with
  // `replace` the directory is emptied first.
  virtual bool Begin(bool replace, std::string* error) = 0;
  // Inserts or replaces one validated customer (by customer_id) / upserts one worker.
  virtual bool AddCustomer(const Customer& customer, std::string* error) = 0;
  virtual bool AddWorker(const Worker& worker, std::string* error) = 0;
  virtual bool Commit(std::string* error) = 0;
  // Rolls back; harmless when nothing was begun or after Commit.
  virtual void Abort() = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_IMPORT_WRITER_H_
