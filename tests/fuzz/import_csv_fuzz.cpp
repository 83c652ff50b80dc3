// Fuzz target: CSV import files (directory/import.h) over any bytes: the RFC 4180 reader, the
// tables and continuation rows, validation, then a round trip of what was accepted through CSV
// and JSON (see tests/fuzz/fuzz_import.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  frontline::fuzz::CheckImport("fuzz.csv", frontline::fuzz::AsView(data, size));
  return 0;
}
