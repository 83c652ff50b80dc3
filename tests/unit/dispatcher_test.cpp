// The dispatcher's worker pool against a real temporary event store and a FakeRestClient: jobs
// are delivered several at once, so one conversation whose calls stall holds up no other job;
// `outbox deliver` works through the due jobs in parallel too; and Retry-After is capped by the
// give-up time without overflowing.
#include "twilio/dispatcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <climits>
#include <thread>
#include <vector>

#include "events/sqlite_event_store.h"
#include "tests/unit/directory_test_util.h"
#include "tests/unit/fake_rest_client.h"

namespace frontline {
namespace {

using testing::FakeRestClient;
using testing::HttpResult;

OutboxJob Add(const std::string& ch) {
  OutboxJob job;
  job.conversation_sid = ch;
  job.identity = "alice@example.com";
  return job;
}

// Waits, at most 10 s, for `predicate`.
template <typename Predicate>
bool WaitFor(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST_CASE("dispatcher: a conversation whose calls stall holds up no other job") {
  testing::TempDir dir;
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), {}, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  FakeRestClient client;
  client.BlockConversation("CHstalled");
  DispatcherOptions options;
  options.concurrency = 4;
  options.poll_interval_ms = 600000;  // only wake-ups: the test does not wait for a poll
  OutboxDispatcher dispatcher(store.get(), &client, options);
  dispatcher.Start();
  // The stalled one first, so a single worker would be stuck on it.
  REQUIRE(store->Enqueue(Add("CHstalled"), &error) == EnqueueResult::kEnqueued);
  REQUIRE(WaitFor([&] { return client.stalled() == 1; }));
  for (int i = 0; i < 20; ++i) {
    REQUIRE(store->Enqueue(Add("CH" + std::to_string(i)), &error) == EnqueueResult::kEnqueued);
  }
  CHECK(WaitFor([&] { return dispatcher.done() == 20; }));
  CHECK(client.stalled() == 1);  // still stalled while the others were delivered
  client.Unblock();
  CHECK(WaitFor([&] { return dispatcher.done() == 21; }));
  dispatcher.Stop();
  CHECK(store->Counts(&error).pending == 0);
  CHECK(client.CountCalls("add") == 21);
}

TEST_CASE("dispatcher: outbox deliver works through the due jobs in parallel, each once") {
  testing::TempDir dir;
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), {}, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  for (int i = 0; i < 30; ++i) {
    REQUIRE(store->Enqueue(Add("CH" + std::to_string(i)), &error) == EnqueueResult::kEnqueued);
  }
  FakeRestClient client;
  client.ScriptAdd(HttpResult(503));  // one retried: waits for the next run
  DispatcherOptions options;
  options.concurrency = 8;
  OutboxDispatcher dispatcher(store.get(), &client, options);
  CHECK(dispatcher.DeliverDue() == 30);
  CHECK(dispatcher.done() == 29);
  CHECK(dispatcher.retried() == 1);
  CHECK(client.CountCalls("add") == 30);
  CHECK(store->Counts(&error).pending == 1);
}

TEST_CASE("dispatcher: Retry-After is capped by the give-up time, however large") {
  testing::TempDir dir;
  int64_t now = 1700000000000;
  OutboxOptions options;
  options.now_ms = [&now] { return now; };
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  const int64_t give_up = store->options().give_up_after_ms;
  CHECK(store->Backoff(1, LONG_MAX) == (give_up / 1000 + 1) * 1000);  // no overflow
  CHECK(store->Backoff(1, 120) == 120000);

  REQUIRE(store->Enqueue(Add("CH1"), &error) == EnqueueResult::kEnqueued);
  FakeRestClient client;
  client.ScriptAdd(HttpResult(429, 0, LONG_MAX));
  DispatcherOptions dispatch;
  dispatch.concurrency = 1;
  OutboxDispatcher dispatcher(store.get(), &client, dispatch);
  now += 3600 * 1000;  // an hour old when the 429 comes
  CHECK(dispatcher.RunOnce() == 1);
  std::vector<OutboxRow> rows;
  REQUIRE(ListJobs(dir.File("outbox.db"), "", true, &rows, &error));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "pending");
  // The next attempt comes at the give-up time, not in 68 years (nor in the past).
  CHECK(rows[0].next_attempt_at == rows[0].created_at + give_up);
  now = rows[0].next_attempt_at;
  client.ScriptAdd(HttpResult(503));
  CHECK(dispatcher.RunOnce() == 1);
  rows.clear();
  REQUIRE(ListJobs(dir.File("outbox.db"), "", true, &rows, &error));
  CHECK(rows[0].state == "failed");
  CHECK(rows[0].last_error.rfind("gave up after 24 h", 0) == 0);
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

TEST_CASE("event store: concurrent Enqueue calls share commits, every row durable") {
  testing::TempDir dir;
  constexpr int kThreads = 16;
  SqliteEventStore* store_ptr = nullptr;
  std::atomic<int> batches{0};
  OutboxOptions options;
  // The first leader waits until every other caller has queued (at most 5 s), so the rest
  // must go into one commit together.
  options.on_batch_start = [&](size_t) {
    if (batches.fetch_add(1) != 0) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (store_ptr->queued_enqueues() < kThreads - 1 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  store_ptr = store.get();
  std::vector<std::thread> threads;
  std::atomic<int> enqueued{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::string e;
      if (store->Enqueue(Add("CH" + std::to_string(i)), &e) == EnqueueResult::kEnqueued) {
        ++enqueued;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(enqueued.load() == kThreads);
  CHECK(store->commits() == 2);  // the first alone, then the fifteen that queued meanwhile
  // Durable: a new connection (as after a restart) sees every row.
  store.reset();
  std::vector<OutboxRow> rows;
  REQUIRE(ListJobs(dir.File("outbox.db"), "", true, &rows, &error));
  CHECK(rows.size() == kThreads);
}

// An on_batch_start hook that holds the first group commit until `release` (at most 5 s), so
// a test can queue more Enqueue calls behind it; `calls` counts the batches started.
std::function<void(size_t)> HoldFirstBatch(std::atomic<bool>* release, std::atomic<int>* calls) {
  return [release, calls](size_t) {
    if (calls->fetch_add(1) != 0) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!release->load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
}

TEST_CASE("event store: a duplicate in the same group commit reads the job stored first") {
  testing::TempDir dir;
  std::atomic<bool> release{false};
  std::atomic<int> calls{0};
  OutboxOptions options;
  options.on_batch_start = HoldFirstBatch(&release, &calls);
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  std::thread first([&] {
    std::string e;
    CHECK(store->Enqueue(Add("CH0"), &e) == EnqueueResult::kEnqueued);
  });
  REQUIRE(WaitFor([&] { return calls.load() == 1; }));
  OutboxJob a = Add("CH1");
  OutboxJob b = Add("CH1");
  b.identity = "bob@example.com";
  OutboxJob stored;
  std::thread second([&] {
    std::string e;
    CHECK(store->Enqueue(a, &e) == EnqueueResult::kEnqueued);
  });
  REQUIRE(WaitFor([&] { return store->queued_enqueues() == 1; }));
  std::thread third([&] {
    std::string e;
    CHECK(store->Enqueue(b, &stored, &e) == EnqueueResult::kDuplicate);
  });
  REQUIRE(WaitFor([&] { return store->queued_enqueues() == 2; }));
  release = true;
  first.join();
  second.join();
  third.join();
  CHECK(stored.identity == "alice@example.com");
  CHECK(store->commits() == 2);
}

TEST_CASE("event store: Enqueue gives up after its bound while the database is busy") {
  testing::TempDir dir;
  std::atomic<bool> release{false};
  std::atomic<int> calls{0};
  OutboxOptions options;
  options.enqueue_timeout_ms = 100;
  options.on_batch_start = HoldFirstBatch(&release, &calls);
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  std::thread slow([&] {
    std::string e;
    CHECK(store->Enqueue(Add("CH0"), &e) == EnqueueResult::kEnqueued);
  });
  REQUIRE(WaitFor([&] { return calls.load() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  CHECK(store->Enqueue(Add("CH1"), &error) == EnqueueResult::kError);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(100));
  CHECK(waited < std::chrono::seconds(2));
  CHECK(error.find("not stored within 100 ms") != std::string::npos);
  release = true;
  slow.join();
  CHECK(store->queued_enqueues() == 0);
  std::vector<OutboxRow> rows;
  REQUIRE(ListJobs(dir.File("outbox.db"), "", true, &rows, &error));
  REQUIRE(rows.size() == 1);  // the one that gave up is not stored: Twilio's retry stores it
  CHECK(rows[0].key == "add:CH0");
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

TEST_CASE("dispatcher: done jobs are purged after the retention, duplicates caught until then") {
  testing::TempDir dir;
  constexpr int64_t kDay = 24LL * 3600 * 1000;
  std::atomic<int64_t> now{1700000000000};
  OutboxOptions options;
  options.now_ms = [&now] { return now.load(); };
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  CHECK(store->options().retention_ms == 7 * kDay);  // the default
  REQUIRE(store->Enqueue(Add("CH1"), &error) == EnqueueResult::kEnqueued);
  REQUIRE(store->Enqueue(Add("CH2"), &error) == EnqueueResult::kEnqueued);
  FakeRestClient client;
  client.ScriptAdd(HttpResult(201));
  client.ScriptAdd(HttpResult(400));  // CH2 fails: kept for an operator, never purged
  DispatcherOptions dispatch;
  dispatch.concurrency = 1;
  OutboxDispatcher dispatcher(store.get(), &client, dispatch);
  CHECK(dispatcher.RunOnce() == 2);

  now += 7 * kDay - 1;  // within the retention: kept, and Twilio's retry is a duplicate
  CHECK(dispatcher.PurgeExpired() == 0);
  CHECK(store->Enqueue(Add("CH1"), &error) == EnqueueResult::kDuplicate);
  now += 2;
  CHECK(dispatcher.PurgeExpired() == 1);
  std::vector<OutboxRow> rows;
  REQUIRE(ListJobs(dir.File("outbox.db"), "", true, &rows, &error));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].state == "failed");
  // Past the retention a webhook for CH1 is new again (Twilio's retries stop long before).
  CHECK(store->Enqueue(Add("CH1"), &error) == EnqueueResult::kEnqueued);
}

TEST_CASE("dispatcher: purging goes in bounded batches") {
  testing::TempDir dir;
  std::atomic<int64_t> now{1700000000000};
  OutboxOptions options;
  options.now_ms = [&now] { return now.load(); };
  options.retention_ms = 1000;
  std::string error;
  auto store = SqliteEventStore::Open(dir.File("outbox.db"), options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  for (int i = 0; i < 1200; ++i) {
    REQUIRE(store->Enqueue(Add("CH" + std::to_string(i)), &error) == EnqueueResult::kEnqueued);
  }
  FakeRestClient client;
  OutboxDispatcher dispatcher(store.get(), &client);
  CHECK(dispatcher.DeliverDue() == 1200);  // and purges nothing yet: just delivered
  CHECK(store->PurgeDone(500, &error) == 0);
  now += 1001;
  CHECK(store->PurgeDone(500, &error) == 500);
  CHECK(dispatcher.PurgeExpired() == 700);
}

TEST_CASE("outbox list: UTC ISO 8601 times, attempts and the last error") {
  OutboxRow row;
  row.id = 7;
  row.key = "add:CH1";
  row.state = "pending";
  row.attempts = 2;
  row.created_at = 1796190049000;       // 2026-12-02T05:40:49Z
  row.updated_at = 1796190051500;       // 2026-12-02T05:40:51Z
  row.next_attempt_at = 1796190053999;  // 2026-12-02T05:40:53Z
  row.last_error = "HTTP 503";
  CHECK(FormatUtc(1796190049000) == "2026-12-02T05:40:49Z");
  CHECK(FormatOutboxRow(row) ==
        "7\tpending\tadd:CH1\tattempts=2\tcreated=2026-12-02T05:40:49Z\t"
        "next=2026-12-02T05:40:53Z\tupdated=2026-12-02T05:40:51Z\terror=HTTP 503");
}

}  // namespace
}  // namespace frontline
