// The dispatcher's worker pool against a real temporary event store and a FakeRestClient: jobs
// are delivered several at once, so one conversation whose calls stall holds up no other job;
// `outbox deliver` works through the due jobs in parallel too; and Retry-After is capped by the
// give-up time without overflowing.
#include "twilio/dispatcher.h"

#include <doctest/doctest.h>

#include <chrono>
#include <climits>
#include <thread>

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
