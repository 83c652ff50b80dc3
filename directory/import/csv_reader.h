// The CSV import reader: streams one RFC 4180 file (tables of customers and/or workers; see
// directory/import.h) record by record into a RecordSink. Memory is that of one customer (its
// rows are consecutive), not the file. Every field is checked to be UTF-8 here (the stream
// need not check). Errors are "name:line: reason".
// Thread-safety: one call per stream; calls on different streams may run concurrently.
#ifndef FRONTLINE_DIRECTORY_IMPORT_CSV_READER_H_
#define FRONTLINE_DIRECTORY_IMPORT_CSV_READER_H_

#include <string>

#include "directory/import/input_stream.h"
#include "directory/import/record_sink.h"

namespace frontline {

// Reads the CSV file `name` from `in` into `sink`. False with `error` on the first bad row,
// a read error or a sink failure (the sink's error unchanged).
bool ReadCsvFile(const std::string& name, ImportInputStream* in, RecordSink* sink,
                 const ReadProgress& progress, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_CSV_READER_H_
