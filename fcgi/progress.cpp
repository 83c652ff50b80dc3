#include "fcgi/progress.h"

#include <algorithm>

namespace frontline {

void ProgressBar::Update(const ImportProgress& progress) {
  auto now = std::chrono::steady_clock::now();
  if (printed_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  printed_ = true;
  const double fraction =
      progress.total == 0 ? 1.0
                          : std::min(1.0, static_cast<double>(progress.done) / progress.total);
  Print(fraction, progress.customers);
}

void ProgressBar::Finish(size_t customers) {
  Print(1.0, customers);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Abort() {
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Print(double fraction, size_t customers) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  std::fprintf(out_, "\rimport [%s] %5.1f%%  %zu customers", bar, fraction * 100.0, customers);
  std::fflush(out_);
}

}  // namespace frontline
