// A buffered, RapidJSON-compatible input stream over a FILE* for the import readers: a fixed
// 64 KiB buffer (memory does not grow with the file), line numbers counted lazily (only when
// asked for, over the bytes consumed since), and optionally UTF-8 validated one buffer at a
// time (a sequence split across two reads is carried over). On the first invalid byte the
// stream ends just before it and remembers its line, so the parser needs no per-character
// validation. Thread-safety: one thread at a time.
#ifndef FRONTLINE_DIRECTORY_IMPORT_INPUT_STREAM_H_
#define FRONTLINE_DIRECTORY_IMPORT_INPUT_STREAM_H_

#include <cstddef>
#include <cstdio>
#include <memory>

namespace frontline {

class ImportInputStream {
 public:
  typedef char Ch;
  static constexpr size_t kBufferSize = 1 << 16;

  // Reads `file` from its current position (null: an empty input); `check_utf8`: end the
  // stream at invalid UTF-8.
  ImportInputStream(std::FILE* file, bool check_utf8);

  Ch Peek() {
    if (pos_ == size_) Fill();
    return pos_ < size_ ? buffer_[pos_] : '\0';
  }
  Ch Take() {
    if (pos_ == size_) Fill();
    return pos_ < size_ ? buffer_[pos_++] : '\0';
  }
  size_t Tell() const { return consumed_ + pos_; }
  bool AtEnd() {
    if (pos_ == size_) Fill();
    return pos_ >= size_;
  }
  // The line (from 1) of the next character.
  size_t line();
  bool read_error() const { return read_error_; }
  // True once everything before an invalid UTF-8 byte has been consumed (the stream then looks
  // ended); invalid_utf8_line() is that byte's line.
  bool stopped_at_invalid_utf8() const { return invalid_ && pos_ == size_; }
  size_t invalid_utf8_line() const { return invalid_line_; }

  // Not used for reading (RapidJSON needs them to compile).
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }

 private:
  void Fill();

  std::FILE* file_;
  bool check_utf8_;
  std::unique_ptr<char[]> buffer_;  // kBufferSize + room for a carried partial sequence
  size_t pos_ = 0;       // next byte
  size_t size_ = 0;      // bytes handed out from the buffer (validated)
  size_t avail_ = 0;     // bytes in the buffer (size_ plus a partial sequence at the end)
  size_t consumed_ = 0;  // bytes of earlier buffers
  size_t counted_ = 0;   // line_ is the line of this buffer position
  size_t line_ = 1;
  bool eof_ = false;
  bool read_error_ = false;
  bool invalid_ = false;
  size_t invalid_line_ = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_IMPORT_INPUT_STREAM_H_
