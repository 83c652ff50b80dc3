// The JSON import reader: streams one file (an array of customers, or an object with
// "customers" and "workers" arrays; see directory/import.h) record by record into a
// RecordSink. Memory is bounded by the largest record, not the file: RapidJSON parses one
// record at a time into reused pools, iteratively (deep nesting is a syntax error, not a stack
// overflow). Errors are "name:line: reason" with the line where the record starts.
// Thread-safety: one call per stream; calls on different streams may run concurrently.
#ifndef FRONTLINE_DIRECTORY_IMPORT_JSON_READER_H_
#define FRONTLINE_DIRECTORY_IMPORT_JSON_READER_H_

#include <string>

#include "directory/import/input_stream.h"
#include "directory/import/record_sink.h"

namespace frontline {

// Reads the JSON file `name` from `in` (which should check UTF-8) into `sink`. False with
// `error` on the first bad record, a syntax error, invalid UTF-8, a read error or a sink
// failure (the sink's error unchanged).
bool ReadJsonFile(const std::string& name, ImportInputStream* in, RecordSink* sink,
                  const ReadProgress& progress, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_JSON_READER_H_
