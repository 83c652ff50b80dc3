#include "directory/import.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "db/postgres.h"

#include "directory/import/csv_reader.h"
#include "directory/import/input_stream.h"
#include "directory/import/json_reader.h"
#include "directory/import/record_sink.h"
#include "directory/import/pg_writer.h"
#include "directory/import/sqlite_writer.h"
#include "directory/import/validate.h"
#include "directory/import/writer_thread.h"

namespace frontline {
namespace {

// The writer for the backend `db_path` names: a PostgreSQL connection string or a SQLite file.
std::unique_ptr<ImportWriter> OpenWriter(const std::string& db_path, const ImportOptions& options,
                                         std::string* error) {
  if (pg::IsConnectionString(db_path)) {
    return OpenPgImportWriter(pg::LibpqConnInfo(db_path), options.postgres_schema,
                              options.collation, error);
  }
  return OpenSqliteImportWriter(db_path, options.collation, error);
}

std::string LowercaseExtension(const std::string& path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 0x20);
  }
  return ext;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Reads one file (null: empty) from its current position into `sink` with the reader its
// format needs. JSON streams check UTF-8 as they read; the CSV reader checks each field.
bool ReadFile(const std::string& name, std::FILE* file, bool json, RecordSink* sink,
              const ReadProgress& progress, std::string* error) {
  ImportInputStream in(file, json);
  return json ? ReadJsonFile(name, &in, sink, progress, error)
              : ReadCsvFile(name, &in, sink, progress, error);
}

// Builds the readers' progress callback for one file of one pass (empty without a display).
ReadProgress FileProgress(const ImportOptions& options, int pass, uint64_t base, uint64_t total,
                          const ValidatingSink* counts) {
  if (!options.progress) return ReadProgress();
  return [&options, pass, base, total, counts](uint64_t bytes) {
    ImportProgress p;
    p.pass = pass;
    p.done = base + bytes;
    p.total = total;
    p.customers = counts->customers();
    options.progress(p);
  };
}

}  // namespace

bool ImportFiles(const std::string& db_path, const std::vector<std::string>& files,
                 const ImportOptions& options, ImportStats* stats, std::string* error) {
  std::string detail;
  auto fail = [stats, error, &detail](bool database_failed) {
    if (stats != nullptr) stats->database_failed = database_failed;
    if (error != nullptr) *error = detail;
    return false;
  };
  // Check the names, sizes and that each file can be read twice before anything else.
  uint64_t total_bytes = 0;
  std::vector<uint64_t> sizes;
  std::vector<std::unique_ptr<std::FILE, FileCloser>> handles;
  std::vector<bool> json;
  for (const std::string& file : files) {
    std::string ext = LowercaseExtension(file);
    if (ext != "json" && ext != "csv") {
      detail = file + ": unsupported file type (expected .json or .csv)";
      return fail(false);
    }
    std::unique_ptr<std::FILE, FileCloser> f(std::fopen(file.c_str(), "rb"));
    if (!f) {
      detail = file + ": " + std::strerror(errno);
      return fail(false);
    }
    long size = -1;
    if (std::fseek(f.get(), 0, SEEK_END) == 0) size = std::ftell(f.get());
    if (size < 0) {
      detail = file + ": not a regular file (the import reads each file twice)";
      return fail(false);
    }
    sizes.push_back(static_cast<uint64_t>(size));
    total_bytes += static_cast<uint64_t>(size);
    handles.push_back(std::move(f));
    json.push_back(ext == "json");
  }

  std::unique_ptr<ImportWriter> writer = OpenWriter(db_path, options, &detail);
  if (!writer) return fail(true);

  // Pass 1: read and validate everything, duplicates included, without the write lock.
  const uint64_t total = 2 * total_bytes;
  uint64_t base = 0;
  {
    DiscardingSink discard;
    ValidatingSink validate(&discard, /*find_duplicates=*/true);
    for (size_t i = 0; i < files.size(); ++i) {
      std::rewind(handles[i].get());
      if (!ReadFile(files[i], handles[i].get(), json[i], &validate,
                    FileProgress(options, 1, base, total, &validate), &detail)) {
        return fail(false);
      }
      base += sizes[i];
    }
  }

  // Pass 2: the same records, into the database in one transaction. The duplicate check is
  // not repeated: pass 1 saw these files (a file changed in between can still not leave a
  // duplicate customer_id: the unique index refuses it and the import rolls back).
  if (!writer->Begin(options.replace, &detail)) return fail(true);
  WriterThread thread(writer.get());
  ValidatingSink validate(&thread, /*find_duplicates=*/false);
  for (size_t i = 0; i < files.size(); ++i) {
    std::rewind(handles[i].get());
    if (!ReadFile(files[i], handles[i].get(), json[i], &validate,
                  FileProgress(options, 2, base, total, &validate), &detail)) {
      return fail(thread.writer_failed());  // ~SqliteImportWriter rolls back
    }
    base += sizes[i];
  }
  if (!thread.Finish(&detail) || !writer->Commit(&detail)) return fail(true);
  if (stats != nullptr) {
    *stats = ImportStats();
    stats->customers = validate.customers();
    stats->workers = validate.workers();
  }
  return true;
}

bool ImportRecords(const std::string& db_path, const std::vector<Customer>& customers,
                   const std::vector<Worker>& workers, const ImportOptions& options,
                   ImportStats* stats, std::string* error) {
  std::string detail;
  auto fail = [stats, error, &detail](bool database_failed) {
    if (stats != nullptr) stats->database_failed = database_failed;
    if (error != nullptr) *error = detail;
    return false;
  };
  std::unique_ptr<ImportWriter> writer = OpenWriter(db_path, options, &detail);
  if (!writer) return fail(true);
  const std::string customers_name = "customers", workers_name = "workers";
  const uint64_t records = customers.size() + workers.size();
  // Pass 1 validates (no lock), pass 2 writes; both feed the records through `sink`.
  auto feed = [&](int pass, ValidatingSink* sink) {
    for (size_t i = 0; i < customers.size(); ++i) {
      Customer copy = customers[i];
      if (!sink->AddCustomer(std::move(copy), Location{&customers_name, i, true}, &detail)) {
        return false;
      }
      if (i % 1024 == 0 && options.progress) {
        ImportProgress p;
        p.pass = pass;
        p.done = (pass - 1) * records + i;
        p.total = 2 * records;
        p.customers = sink->customers();
        options.progress(p);
      }
    }
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker copy = workers[i];
      if (!sink->AddWorker(std::move(copy), Location{&workers_name, i, true}, &detail)) {
        return false;
      }
    }
    return true;
  };
  {
    DiscardingSink discard;
    ValidatingSink validate(&discard, /*find_duplicates=*/true);
    if (!feed(1, &validate)) return fail(false);
  }
  if (!writer->Begin(options.replace, &detail)) return fail(true);
  WriterThread thread(writer.get());
  ValidatingSink validate(&thread, /*find_duplicates=*/false);
  if (!feed(2, &validate)) return fail(thread.writer_failed());
  if (!thread.Finish(&detail) || !writer->Commit(&detail)) return fail(true);
  if (stats != nullptr) {
    *stats = ImportStats();
    stats->customers = validate.customers();
    stats->workers = validate.workers();
  }
  return true;
}

bool ParseImportData(const std::string& name, std::string_view data,
                     std::vector<Customer>* customers, std::vector<Worker>* workers,
                     std::string* error) {
  std::string detail;
  const std::string ext = LowercaseExtension(name);
  if (ext != "json" && ext != "csv") {
    if (error != nullptr) *error = name + ": unsupported file type (expected .json or .csv)";
    return false;
  }
  // The readers work on a FILE*, as ImportFiles gives them; fmemopen reads `data` in place (the
  // buffer is only read: "rb"). Empty data is an empty stream (fmemopen refuses size 0).
  std::unique_ptr<std::FILE, FileCloser> file;
  if (!data.empty()) {
    file.reset(fmemopen(const_cast<char*>(data.data()), data.size(), "rb"));
    if (!file) {
      if (error != nullptr) *error = name + ": " + std::strerror(errno);
      return false;
    }
  }
  CollectingSink sink(customers, workers);
  ValidatingSink validate(&sink, /*find_duplicates=*/true);
  bool ok = ReadFile(name, file.get(), ext == "json", &validate, ReadProgress(), &detail);
  if (!ok && error != nullptr) *error = detail;
  return ok;
}

}  // namespace frontline
