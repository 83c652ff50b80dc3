#include "directory/import/input_stream.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "directory/text.h"

namespace frontline {
namespace {

constexpr size_t kMaxSequence = 4;

size_t SequenceLength(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// The length of `data` without a multi-byte sequence cut off at its end.
size_t CompletePrefix(const char* data, size_t size) {
  const size_t stop = size > kMaxSequence ? size - kMaxSequence : 0;
  for (size_t i = size; i > stop; --i) {
    const auto c = static_cast<unsigned char>(data[i - 1]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    if (c < 0x80) return size;
    return i - 1 + SequenceLength(c) > size ? i - 1 : size;
  }
  return size;
}

// The offset of the first sequence of `data` that is not valid UTF-8 (data.size() if none).
size_t FirstInvalidUtf8(std::string_view data) {
  size_t i = 0;
  while (i < data.size()) {
    const size_t length =
        std::min(SequenceLength(static_cast<unsigned char>(data[i])), data.size() - i);
    if (!IsValidUtf8(data.substr(i, length))) return i;
    i += length;
  }
  return i;
}

}  // namespace

ImportInputStream::ImportInputStream(std::FILE* file, bool check_utf8)
    : file_(file), check_utf8_(check_utf8), buffer_(new char[kBufferSize + kMaxSequence]) {
  Fill();
}

size_t ImportInputStream::line() {
  if (pos_ > counted_) {
    line_ += static_cast<size_t>(std::count(&buffer_[counted_], &buffer_[pos_], '\n'));
    counted_ = pos_;
  }
  return line_;
}

void ImportInputStream::Fill() {
  line_ += static_cast<size_t>(std::count(&buffer_[counted_], &buffer_[size_], '\n'));
  consumed_ += size_;
  const size_t tail = avail_ - size_;  // a partial sequence carried to the next buffer
  std::memmove(&buffer_[0], &buffer_[size_], tail);
  pos_ = 0;
  size_ = 0;
  counted_ = 0;
  avail_ = tail;
  if (invalid_) return;  // the stream stays ended
  if (!eof_) {
    const size_t n = file_ == nullptr ? 0 : std::fread(&buffer_[tail], 1, kBufferSize, file_);
    if (n < kBufferSize) {
      eof_ = true;
      read_error_ = file_ != nullptr && std::ferror(file_) != 0;
    }
    avail_ = tail + n;
  }
  if (!check_utf8_) {
    size_ = avail_;
    return;
  }
  size_t complete = eof_ ? avail_ : CompletePrefix(&buffer_[0], avail_);
  std::string_view chunk(&buffer_[0], complete);
  if (!IsValidUtf8(chunk)) {
    complete = FirstInvalidUtf8(chunk);
    invalid_ = true;
    invalid_line_ = line_ + static_cast<size_t>(std::count(&buffer_[0], &buffer_[complete], '\n'));
    avail_ = complete;
  }
  size_ = complete;
}

}  // namespace frontline
