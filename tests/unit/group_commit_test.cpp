// GroupCommit (events/group_commit.h): concurrent submissions share batches, each item is in
// exactly one batch, and a submission whose deadline passes before a leader takes it is in
// none.
#include "events/group_commit.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace frontline {
namespace {

struct Item {
  int value = 0;
  int batch = -1;  // set by the commit: which batch took it
};

// Waits, at most 10 s, for `predicate`.
template <typename Predicate>
bool WaitFor(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE("group commit: what queues while a batch commits goes into the next one, whole") {
  constexpr int kThreads = 12;
  std::atomic<bool> release{false};
  std::atomic<int> batches{0};
  std::vector<size_t> sizes;  // written by the leaders, one at a time
  GroupCommit<Item>* self = nullptr;
  GroupCommit<Item> group([&](const std::vector<Item*>& batch) {
    const int n = batches.fetch_add(1);
    sizes.push_back(batch.size());
    for (Item* item : batch) item->batch = n;
    // The first batch holds until the other threads have queued behind it.
    if (n == 0) WaitFor([&] { return release.load() || self->queued() == kThreads - 1; });
  });
  self = &group;
  std::vector<Item> items(kThreads);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { CHECK(group.Submit(&items[0])); });
  REQUIRE(WaitFor([&] { return batches.load() == 1; }));
  for (int i = 1; i < kThreads; ++i) {
    threads.emplace_back([&, i] { CHECK(group.Submit(&items[i])); });
  }
  for (std::thread& t : threads) t.join();
  release = true;
  REQUIRE(sizes.size() == 2);
  CHECK(sizes[0] == 1);
  CHECK(sizes[1] == kThreads - 1);
  CHECK(items[0].batch == 0);
  for (int i = 1; i < kThreads; ++i) CHECK(items[i].batch == 1);
  CHECK(group.queued() == 0);
}

TEST_CASE("group commit: a submission not taken before its deadline is in no batch") {
  std::atomic<bool> release{false};
  std::atomic<int> batches{0};
  std::atomic<int> committed{0};
  GroupCommit<Item> group([&](const std::vector<Item*>& batch) {
    committed += static_cast<int>(batch.size());
    if (batches.fetch_add(1) == 0) WaitFor([&] { return release.load(); });
  });
  Item first;
  std::thread leader([&] { CHECK(group.Submit(&first)); });
  REQUIRE(WaitFor([&] { return batches.load() == 1; }));
  Item late;
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(group.Submit(&late, start + std::chrono::milliseconds(50)));
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));
  CHECK(group.queued() == 0);
  release = true;
  leader.join();
  CHECK(committed.load() == 1);
  CHECK(batches.load() == 1);
  // The group still works afterwards; an unbounded submission always commits.
  Item next;
  CHECK(group.Submit(&next));
  CHECK(committed.load() == 2);
}

}  // namespace
}  // namespace frontline
