// In-process counters for /metrics (Prometheus text format 0.0.4): requests by route and
// status, and a latency histogram. Each process keeps its own; scrape each process's socket
// for a complete view. Thread-safe: Record and Render may be called from any thread.
#ifndef FRONTLINE_HANDLERS_METRICS_H_
#define FRONTLINE_HANDLERS_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace frontline {

class Metrics {
 public:
  // Upper bounds of the latency histogram, in seconds.
  static constexpr std::array<double, 10> kLatencyBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0};

  void RecordRequest(std::string_view route, int status, int64_t micros);
  // One outbox delivery attempt and its outcome ("done", "retry", "failed").
  void RecordDelivery(std::string_view outcome);
  // One request answered without the directory because it could not answer (a 503, or the
  // onConversationAdd fallback).
  void RecordDirectoryUnavailable() {
    directory_unavailable_.fetch_add(1, std::memory_order_relaxed);
  }
  // The whole exposition, one sample per line.
  std::string Render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::array<uint64_t, kLatencyBuckets.size()> bucket_counts_{};
  uint64_t latency_count_ = 0;
  double latency_sum_seconds_ = 0;
  std::map<std::string, uint64_t> deliveries_;
  std::atomic<uint64_t> directory_unavailable_{0};
};

}  // namespace frontline

#endif  // FRONTLINE_HANDLERS_METRICS_H_
