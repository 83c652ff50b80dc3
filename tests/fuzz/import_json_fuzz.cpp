// Fuzz target: JSON import files (directory/import.h) over any bytes: the streaming reader, the
// record conversion and validation, then a round trip of what was accepted through JSON and CSV
// (see tests/fuzz/fuzz_import.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  frontline::fuzz::CheckImport("fuzz.json", frontline::fuzz::AsView(data, size));
  return 0;
}
