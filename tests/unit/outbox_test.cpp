// The durable outbox against a real temporary SQLite file (its own, as --outbox makes it)
// and a scripted FakeRestClient, with a fake clock: keys and deduplication, the SPEC §6
// outcomes (done, retry with growing backoff and Retry-After, failed and requeued, given up
// after 24 h), the attribute merge, leases shared by several outboxes on one file (as several
// processes would), and the dispatcher thread's wake-up and stop.
#include "events/sqlite_event_store.h"
#include "twilio/delivery.h"
#include "twilio/dispatcher.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "directory/schema.h"
#include "directory/sqlite_directory.h"
#include "tests/unit/directory_test_util.h"
#include "tests/unit/fake_rest_client.h"

namespace frontline {
namespace {

using testing::FakeRestClient;
using testing::HttpResult;

constexpr int64_t kStart = 1700000000000;  // unix ms

struct Fixture {
  Fixture() {
    path = dir.File("outbox.db");
    outbox = NewOutbox();
  }

  std::unique_ptr<SqliteEventStore> NewOutbox() {
    OutboxOptions options;
    options.now_ms = [this] { return now.load(); };
    std::string error;
    auto out = SqliteEventStore::Open(path, options, &error);
    REQUIRE_MESSAGE(out != nullptr, error);
    return out;
  }

  std::vector<OutboxRow> Rows(bool include_done = true) {
    std::vector<OutboxRow> rows;
    std::string error;
    REQUIRE_MESSAGE(ListJobs(path, "", include_done, &rows, &error), error);
    return rows;
  }

  OutboxRow Row(int64_t id) {
    for (const OutboxRow& row : Rows()) {
      if (row.id == id) return row;
    }
    FAIL("no outbox row " << id);
    return OutboxRow();
  }

  testing::TempDir dir;
  std::string path;
  std::atomic<int64_t> now{kStart};
  std::unique_ptr<SqliteEventStore> outbox;
};

OutboxJob AddJob(const std::string& ch, const std::string& identity = "alice@example.com") {
  OutboxJob job;
  job.action = JobAction::kAddParticipant;
  job.conversation_sid = ch;
  job.identity = identity;
  return job;
}

OutboxJob AttrsJob(const std::string& ch, const std::string& mb, const std::string& attrs) {
  OutboxJob job;
  job.action = JobAction::kSetParticipantAttributes;
  job.conversation_sid = ch;
  job.participant_sid = mb;
  job.attributes_json = attrs;
  return job;
}

void Enqueue(SqliteEventStore* outbox, const OutboxJob& job) {
  std::string error;
  REQUIRE_MESSAGE(outbox->Enqueue(job, &error) == EnqueueResult::kEnqueued, error);
}

TEST_CASE("outbox: keys") {
  CHECK(OutboxKey(AddJob("CH1")) == "add:CH1");
  CHECK(OutboxKey(AttrsJob("CH1", "MB2", "{}")) == "attrs:CH1:MB2");
}

TEST_CASE("outbox: enqueue stores once; a duplicate stays one even after delivery") {
  Fixture f;
  std::string error;
  CHECK(f.outbox->Enqueue(AddJob("CH1"), &error) == EnqueueResult::kEnqueued);
  OutboxJob stored;
  CHECK(f.outbox->Enqueue(AddJob("CH1", "bob@example.com"), &stored, &error) ==
        EnqueueResult::kDuplicate);
  CHECK(stored.identity == "alice@example.com");  // the job stored first, not the retry's
  CHECK(stored.conversation_sid == "CH1");
  CHECK(f.outbox->Enqueue(AttrsJob("CH1", "MB1", "{}"), &error) == EnqueueResult::kEnqueued);
  CHECK(f.outbox->Enqueue(OutboxJob(), &error) == EnqueueResult::kError);
  OutboxCounts counts = f.outbox->Counts(&error);
  CHECK(counts.pending == 2);
  CHECK(counts.failed == 0);

  // Another "process" sees the same rows.
  auto other = f.NewOutbox();
  CHECK(other->Enqueue(AddJob("CH1"), &error) == EnqueueResult::kDuplicate);

  FakeRestClient client;
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 2);
  CHECK(f.outbox->Counts(&error).pending == 0);
  CHECK(f.outbox->Enqueue(AddJob("CH1"), &error) == EnqueueResult::kDuplicate);
  CHECK(client.CountCalls("add") == 1);
  CHECK(f.Rows(false).empty());
  CHECK(f.Rows(true).size() == 2);
}

TEST_CASE("outbox: 201 is done") {
  Fixture f;
  FakeRestClient client;
  Enqueue(f.outbox.get(), AddJob("CH1", "alice@example.com"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  auto calls = client.calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].method == "add");
  CHECK(calls[0].conversation_sid == "CH1");
  CHECK(calls[0].argument == "alice@example.com");
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "done");
  CHECK(row.attempts == 0);
  CHECK(row.lease_owner.empty());
  CHECK(dispatcher.done() == 1);
  CHECK(dispatcher.RunOnce() == 0);
}

TEST_CASE("outbox: 409/50433 is done") {
  Fixture f;
  FakeRestClient client;
  client.ScriptAdd(HttpResult(409, 50433));
  Enqueue(f.outbox.get(), AddJob("CH1"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  CHECK(f.Rows()[0].state == "done");
}

TEST_CASE("outbox: 500 three times then 201, with growing backoff") {
  Fixture f;
  FakeRestClient client;
  for (int i = 0; i < 3; ++i) client.ScriptAdd(HttpResult(500));
  Enqueue(f.outbox.get(), AddJob("CH1"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  int64_t previous_delay = 0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    CHECK(dispatcher.RunOnce() == 1);
    OutboxRow row = f.Rows()[0];
    CHECK(row.state == "pending");
    CHECK(row.attempts == attempt);
    CHECK(row.last_error.find("500") != std::string::npos);
    const int64_t delay = row.next_attempt_at - f.now.load();
    const int64_t nominal = 1000LL << (attempt - 1);
    CHECK(delay >= nominal / 2);
    CHECK(delay <= nominal);
    CHECK(delay >= previous_delay);
    previous_delay = delay;
    // Not due yet: nothing happens.
    f.now = row.next_attempt_at - 1;
    CHECK(dispatcher.RunOnce() == 0);
    f.now = row.next_attempt_at;
  }
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "done");
  CHECK(row.attempts == 3);
  CHECK(client.CountCalls("add") == 4);
  CHECK(dispatcher.retried() == 3);
  CHECK(dispatcher.done() == 1);
}

TEST_CASE("outbox: backoff is capped at 5 minutes") {
  Fixture f;
  for (int64_t attempts : {10, 11, 20, 60, 1000}) {  // 1 s * 2^9 > 5 min
    int64_t delay = f.outbox->Backoff(attempts, std::nullopt);
    CHECK(delay >= 150000);
    CHECK(delay <= 300000);
  }
  CHECK(f.outbox->Backoff(1, 3600L) == 3600000);
}

TEST_CASE("outbox: 429 honours Retry-After") {
  Fixture f;
  FakeRestClient client;
  client.ScriptAdd(HttpResult(429, 20429, 120L));
  Enqueue(f.outbox.get(), AddJob("CH1"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "pending");
  CHECK(row.next_attempt_at == kStart + 120000);
  f.now = kStart + 119999;
  CHECK(dispatcher.RunOnce() == 0);
  f.now = kStart + 120000;
  CHECK(dispatcher.RunOnce() == 1);
  CHECK(f.Rows()[0].state == "done");
  CHECK(client.CountCalls("add") == 2);
}

TEST_CASE("outbox: 400 fails with its error; RetryJob requeues it") {
  Fixture f;
  FakeRestClient client;
  client.ScriptAdd(HttpResult(400, 50400));
  Enqueue(f.outbox.get(), AddJob("CH1"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow row = f.Rows(false).at(0);
  CHECK(row.state == "failed");
  CHECK(row.attempts == 1);
  CHECK(row.last_error.find("400") != std::string::npos);
  CHECK(row.last_error.find("50400") != std::string::npos);
  CHECK(FormatOutboxRow(row).find("failed") != std::string::npos);
  std::string error;
  OutboxCounts counts = f.outbox->Counts(&error);
  CHECK(counts.failed == 1);
  CHECK(counts.pending == 0);
  CHECK(dispatcher.RunOnce() == 0);  // failed jobs are kept, not retried

  CHECK_FALSE(RetryJob(f.path, "", row.id + 100, &error));
  CHECK(error.find("no failed") != std::string::npos);
  REQUIRE_MESSAGE(RetryJob(f.path, "", row.id, &error), error);
  CHECK(f.Row(row.id).state == "pending");
  CHECK(f.Row(row.id).attempts == 1);
  CHECK_FALSE(RetryJob(f.path, "", row.id, &error));  // pending, not failed
  f.now = SystemUnixMs();                         // RetryJob makes it due at the real time
  CHECK(dispatcher.RunOnce() == 1);
  CHECK(f.Row(row.id).state == "done");
  CHECK(f.outbox->Counts(&error).failed == 0);
}

TEST_CASE("outbox: retryable failures give up after 24 h") {
  Fixture f;
  FakeRestClient client;
  for (int i = 0; i < 3; ++i) client.ScriptAdd(HttpResult(503));
  Enqueue(f.outbox.get(), AddJob("CH1"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  f.now = kStart + 24LL * 3600 * 1000 - 1;
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow pending = f.Rows()[0];
  CHECK(pending.state == "pending");
  CHECK(pending.next_attempt_at >= kStart + 24LL * 3600 * 1000);
  f.now = pending.next_attempt_at;  // past the 24 h since created_at
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "failed");
  CHECK(row.attempts == 3);
  CHECK(row.last_error.rfind("gave up after 24 h: ", 0) == 0);
  CHECK(row.last_error.find("503") != std::string::npos);
}

TEST_CASE("outbox: set attributes merges and skips the update when nothing changes") {
  Fixture f;
  FakeRestClient client;
  client.SetAttributes("MB1", R"({"customer_id":"keep","vip":true})");
  client.SetAttributes("MB2", R"({"customer_id":"c2","display_name":"Bo","avatar":"a"})");
  client.SetAttributes("MB3", "");
  const std::string attrs = R"({"customer_id":"c1","display_name":"Ann","avatar":"https://a/1"})";
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB1", attrs));
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB2", R"({"customer_id":"c2","display_name":"X"})"));
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB3", attrs));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 3);
  for (const OutboxRow& row : f.Rows()) CHECK(row.state == "done");
  CHECK(client.CountCalls("fetch") == 3);
  CHECK(client.CountCalls("update") == 2);  // MB2 already had every key

  rapidjson::Document doc;
  const std::string mb1 = client.Attributes("MB1");
  doc.Parse(mb1.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["customer_id"].GetString()) == "keep");
  CHECK(doc["vip"].GetBool());
  CHECK(std::string(doc["display_name"].GetString()) == "Ann");
  CHECK(std::string(doc["avatar"].GetString()) == "https://a/1");
  CHECK(client.Attributes("MB2") == R"({"customer_id":"c2","display_name":"Bo","avatar":"a"})");
  const std::string mb3 = client.Attributes("MB3");
  doc.Parse(mb3.c_str());
  REQUIRE(doc.IsObject());
  CHECK(std::string(doc["customer_id"].GetString()) == "c1");
}

TEST_CASE("outbox: attributes that are not a JSON object are left alone and the job failed") {
  Fixture f;
  FakeRestClient client;
  client.SetAttributes("MB1", "garbage");
  client.SetAttributes("MB2", R"(["a","list"])");
  const std::string attrs = R"({"customer_id":"c1","display_name":"Ann"})";
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB1", attrs));
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB2", attrs));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 2);
  CHECK(client.CountCalls("fetch") == 2);
  CHECK(client.CountCalls("update") == 0);
  CHECK(client.Attributes("MB1") == "garbage");
  CHECK(client.Attributes("MB2") == R"(["a","list"])");
  std::vector<OutboxRow> rows = f.Rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].state == "failed");
  CHECK(rows[0].last_error == "participant attributes are not valid JSON: left unchanged");
  CHECK(rows[1].state == "failed");
  CHECK(rows[1].last_error == "participant attributes are not a JSON object: left unchanged");
  CHECK(dispatcher.failed() == 2);
  std::string error;
  CHECK(f.outbox->Counts(&error).failed == 2);
  CHECK(dispatcher.RunOnce() == 0);  // kept, not retried

  // Once someone fixes the participant, `outbox retry` merges as usual.
  client.SetAttributes("MB1", R"({"vip":true})");
  REQUIRE_MESSAGE(RetryJob(f.path, "", rows[0].id, &error), error);
  f.now = SystemUnixMs();
  CHECK(dispatcher.RunOnce() == 1);
  CHECK(f.Row(rows[0].id).state == "done");
  CHECK(client.Attributes("MB1") == R"({"vip":true,"customer_id":"c1","display_name":"Ann"})");
}

TEST_CASE("outbox: a failed fetch decides the outcome") {
  Fixture f;
  FakeRestClient client;
  client.ScriptFetch(HttpResult(500));
  client.ScriptFetch(HttpResult(404, 50432));
  Enqueue(f.outbox.get(), AttrsJob("CH1", "MB1", R"({"a":1})"));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "pending");
  CHECK(row.last_error.rfind("fetch participant: ", 0) == 0);
  f.now = row.next_attempt_at;
  CHECK(dispatcher.RunOnce() == 1);
  row = f.Rows()[0];
  CHECK(row.state == "failed");
  CHECK(row.last_error.find("404") != std::string::npos);
  CHECK(client.CountCalls("update") == 0);
}

TEST_CASE("outbox: a crashed owner's claim is delivered once its lease expires") {
  Fixture f;
  FakeRestClient client;
  Enqueue(f.outbox.get(), AddJob("CH1"));
  {
    auto crashed = f.NewOutbox();
    std::string error;
    std::optional<OutboxRow> claimed = crashed->Claim(&error);
    REQUIRE(claimed.has_value());
    CHECK(claimed->lease_owner == crashed->owner());
    CHECK(f.Rows()[0].lease_until == kStart + 30000);
  }  // gone without finishing, as after kill -9
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 0);
  f.now = kStart + 30000;
  CHECK(dispatcher.RunOnce() == 0);  // the lease runs until lease_until
  f.now = kStart + 30001;
  CHECK(dispatcher.RunOnce() == 1);
  CHECK(f.Rows()[0].state == "done");
  CHECK(client.CountCalls("add") == 1);
}

TEST_CASE("outbox: an expired lease is taken over and the late owner cannot record") {
  Fixture f;
  Enqueue(f.outbox.get(), AddJob("CH1"));
  auto slow = f.NewOutbox();
  CHECK(slow->owner() != f.outbox->owner());
  std::string error;
  std::optional<OutboxRow> first = slow->Claim(&error);
  REQUIRE(first.has_value());
  CHECK_FALSE(f.outbox->Claim(&error).has_value());
  f.now = kStart + 31000;
  std::optional<OutboxRow> second = f.outbox->Claim(&error);
  REQUIRE(second.has_value());
  CHECK(second->id == first->id);
  CHECK(f.Rows()[0].lease_owner == f.outbox->owner());

  Delivery failed;
  failed.outcome = Outcome::kFailed;
  failed.description = "late";
  CHECK_FALSE(slow->Finish(*first, failed, &error));
  CHECK(error.find("lease lost") != std::string::npos);
  Delivery done;
  done.outcome = Outcome::kDone;
  REQUIRE_MESSAGE(f.outbox->Finish(*second, done, &error), error);
  OutboxRow row = f.Rows()[0];
  CHECK(row.state == "done");
  CHECK(row.last_error.empty());
}

TEST_CASE("outbox: concurrent claims get distinct jobs; a lost lease fails only its Finish") {
  Fixture f;
  constexpr int kJobs = 8;
  for (int i = 0; i < kJobs; ++i) Enqueue(f.outbox.get(), AddJob("CH" + std::to_string(i)));
  // More claimers than jobs, all at once: each job to one of them, the rest get nothing.
  constexpr int kClaimers = 12;
  std::vector<std::optional<OutboxRow>> claimed(kClaimers);
  std::vector<std::string> errors(kClaimers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] { claimed[i] = f.outbox->Claim(&errors[i]); });
  }
  for (std::thread& t : threads) t.join();
  threads.clear();
  std::set<int64_t> ids;
  std::vector<OutboxRow> rows;
  for (int i = 0; i < kClaimers; ++i) {
    CHECK_MESSAGE(errors[i].empty(), errors[i]);
    if (!claimed[i]) continue;
    CHECK(claimed[i]->lease_owner == f.outbox->owner());
    ids.insert(claimed[i]->id);
    rows.push_back(*claimed[i]);
  }
  CHECK(ids.size() == kJobs);
  CHECK(rows.size() == kJobs);
  for (const OutboxRow& row : f.Rows()) CHECK(row.lease_owner == f.outbox->owner());

  // Every outcome recorded at once; one row is not this store's lease any more (bogus id).
  rows[0].id = 9999;
  Delivery done;
  done.outcome = Outcome::kDone;
  std::vector<int> finished(kJobs, -1);
  std::vector<std::string> finish_errors(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    threads.emplace_back(
        [&, i] { finished[i] = f.outbox->Finish(rows[i], done, &finish_errors[i]) ? 1 : 0; });
  }
  for (std::thread& t : threads) t.join();
  CHECK(finished[0] == 0);
  CHECK(finish_errors[0].find("lease lost") != std::string::npos);
  int done_rows = 0;
  for (int i = 1; i < kJobs; ++i) CHECK_MESSAGE(finished[i] == 1, finish_errors[i]);
  for (const OutboxRow& row : f.Rows()) done_rows += row.state == "done" ? 1 : 0;
  CHECK(done_rows == kJobs - 1);
}

TEST_CASE("outbox: two processes on one file deliver 200 jobs exactly once") {
  Fixture f;
  auto a = f.NewOutbox();
  auto b = f.NewOutbox();
  FakeRestClient client;  // thread-safe: shared, so every call is counted in one place
  DispatcherOptions options;
  options.poll_interval_ms = 20;
  std::atomic<int> errors{0};
  options.on_error = [&errors](const std::string&) { ++errors; };
  OutboxDispatcher da(a.get(), &client, options);
  OutboxDispatcher db(b.get(), &client, options);
  da.Start();
  db.Start();
  f.now = SystemUnixMs();
  for (int i = 0; i < 200; ++i) {
    Enqueue(i % 2 == 0 ? a.get() : b.get(), AddJob("CH" + std::to_string(i)));
  }
  std::string error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (a->Counts(&error).pending > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  da.Stop();
  db.Stop();
  CHECK(a->Counts(&error).pending == 0);
  std::vector<FakeRestClient::Call> calls = client.calls();
  CHECK(calls.size() == 200);
  std::set<std::string> seen;
  for (const auto& call : calls) seen.insert(call.conversation_sid);
  CHECK(seen.size() == 200);
  CHECK(da.done() + db.done() == 200);
  CHECK(errors.load() == 0);
  MESSAGE("dispatcher a delivered " << da.done() << ", b " << db.done());
}

// Wraps the fake with a delay, to observe the dispatcher mid-delivery.
class SlowClient : public RestClient {
 public:
  explicit SlowClient(RestClient* inner) : inner_(inner) {}
  RestResult AddParticipant(std::string_view ch, std::string_view identity) override {
    started.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return inner_->AddParticipant(ch, identity);
  }
  RestResult FetchParticipant(std::string_view ch, std::string_view mb) override {
    return inner_->FetchParticipant(ch, mb);
  }
  RestResult UpdateParticipantAttributes(std::string_view ch, std::string_view mb,
                                         std::string_view attrs) override {
    return inner_->UpdateParticipantAttributes(ch, mb, attrs);
  }
  std::atomic<bool> started{false};

 private:
  RestClient* inner_;
};

TEST_CASE("outbox: the dispatcher thread is woken by Enqueue") {
  Fixture f;
  // The outbox reads its clock first thing in Claim, under the lock Enqueue also takes: once
  // the dispatcher thread has read it, its first look for work (finding none) comes before
  // any Enqueue, and then it waits for a wake-up or the poll interval.
  std::atomic<int> clock_reads{0};
  OutboxOptions outbox_options;
  outbox_options.now_ms = [&clock_reads] {
    clock_reads.fetch_add(1);
    return SystemUnixMs();
  };
  std::string error;
  std::unique_ptr<SqliteEventStore> outbox = SqliteEventStore::Open(f.path, outbox_options, &error);
  REQUIRE_MESSAGE(outbox != nullptr, error);
  FakeRestClient client;
  DispatcherOptions options;
  options.poll_interval_ms = 600000;  // 10 min: only the wake-up can deliver within the test
  OutboxDispatcher dispatcher(outbox.get(), &client, options);
  dispatcher.Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (clock_reads.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(clock_reads.load() > 0);
  CHECK(dispatcher.done() == 0);
  Enqueue(outbox.get(), AddJob("CH1"));
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (dispatcher.done() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(dispatcher.done() == 1);
  CHECK(client.CountCalls("add") == 1);
  dispatcher.Stop();
  dispatcher.Stop();  // idempotent
}

TEST_CASE("outbox: Stop lets the delivery in progress finish and records it") {
  Fixture f;
  f.now = SystemUnixMs();
  FakeRestClient fake;
  SlowClient client(&fake);
  DispatcherOptions options;
  options.concurrency = 1;  // one in flight: the second job is not started when Stop comes
  OutboxDispatcher dispatcher(f.outbox.get(), &client, options);
  Enqueue(f.outbox.get(), AddJob("CH1"));
  Enqueue(f.outbox.get(), AddJob("CH2"));
  dispatcher.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!client.started.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  dispatcher.Stop();
  std::vector<OutboxRow> rows = f.Rows();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].state == "done");
  CHECK(rows[1].state == "pending");  // not started: left for the next process
  CHECK(rows[1].lease_owner.empty());
  CHECK(fake.CountCalls("add") == 1);
}

TEST_CASE("outbox: Counts reports the oldest pending job's age") {
  Fixture f;
  std::string error;
  OutboxCounts counts = f.outbox->Counts(&error);
  CHECK(error.empty());
  CHECK(counts.pending == 0);
  CHECK(counts.oldest_pending_age_ms == 0);
  Enqueue(f.outbox.get(), AddJob("CH1"));
  f.now = kStart + 1000;
  Enqueue(f.outbox.get(), AddJob("CH2"));
  f.now = kStart + 400000;
  counts = f.outbox->Counts(&error);
  CHECK(counts.pending == 2);
  CHECK(counts.oldest_pending_age_ms == 400000);
  // Done and failed jobs do not count, however old.
  FakeRestClient client;
  client.ScriptAdd(HttpResult(400, 50400));
  OutboxDispatcher dispatcher(f.outbox.get(), &client);
  CHECK(dispatcher.RunOnce() == 2);
  counts = f.outbox->Counts(&error);
  CHECK(counts.pending == 0);
  CHECK(counts.failed == 1);
  CHECK(counts.oldest_pending_age_ms == 0);
}

TEST_CASE("outbox: DeliverDue attempts each job due when it starts, once") {
  Fixture f;
  FakeRestClient client;
  client.ScriptAdd(HttpResult(500));  // CH1's first attempt: retried after about 1 s
  Enqueue(f.outbox.get(), AddJob("CH1"));
  Enqueue(f.outbox.get(), AddJob("CH2"));
  f.now = kStart + 10;
  Enqueue(f.outbox.get(), AddJob("CH3"));
  const int64_t ch3 = f.Rows().back().id;
  // The run starts at +5, when CH3 is not due yet; its clock then jumps 100 s at every read,
  // so CH1's retry is due again long before the run ends: it must wait for the next run.
  f.now = kStart + 5;
  std::atomic<int64_t>* now = &f.now;
  OutboxOptions options;
  options.now_ms = [now] { return now->fetch_add(100000); };
  std::string error;
  std::unique_ptr<SqliteEventStore> outbox = SqliteEventStore::Open(f.path, options, &error);
  REQUIRE_MESSAGE(outbox != nullptr, error);
  DispatcherOptions dispatch;
  dispatch.concurrency = 1;  // the clock above jumps at every read: one thread reads it in order
  OutboxDispatcher dispatcher(outbox.get(), &client, dispatch);
  CHECK(dispatcher.DeliverDue() == 2);
  CHECK(dispatcher.done() == 1);
  CHECK(dispatcher.retried() == 1);
  CHECK(client.CountCalls("add") == 2);
  CHECK(f.Row(ch3).state == "pending");
  CHECK(f.Row(ch3).attempts == 0);
  // The next run takes both.
  CHECK(dispatcher.DeliverDue() == 2);
  CHECK(client.CountCalls("add") == 4);
  CHECK(outbox->Counts(&error).pending == 0);
}

}  // namespace
}  // namespace frontline

namespace frontline {
namespace {

// The jobs of a directory file from before --outbox (its migration-2 outbox table).
void InsertLegacyJob(const std::string& directory_path, const std::string& key,
                     const std::string& state) {
  sqlite3* db = OpenConnection(directory_path, nullptr);
  REQUIRE(db != nullptr);
  const std::string ch = key.substr(key.find(':') + 1);
  const std::string sql =
      "INSERT INTO outbox (key, action, conversation_sid, identity, state, next_attempt_at, "
      "lease_owner, lease_until, created_at, updated_at) VALUES ('" + key +
      "', 'add_participant', '" + ch + "', 'alice@example.com', '" + state +
      "', 0, 'dead-process', 9999999999999, " + std::to_string(kStart) + ", " +
      std::to_string(kStart) + ")";
  char* message = nullptr;
  CHECK_MESSAGE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK,
                (message ? message : ""));
  sqlite3_free(message);
  sqlite3_close(db);
}

int64_t LegacyRowCount(const std::string& directory_path) {
  sqlite3* db = OpenConnection(directory_path, nullptr);
  REQUIRE(db != nullptr);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST_CASE("outbox: jobs in an older directory file's outbox table move over and are delivered") {
  testing::TempDir dir;
  const std::string directory_path = dir.File("directory.db");
  const std::string outbox_path = dir.File("outbox.db");
  std::string error;
  REQUIRE(SqliteDirectory::Open(directory_path, &error) != nullptr);
  InsertLegacyJob(directory_path, "add:CHold1", "pending");
  InsertLegacyJob(directory_path, "add:CHold2", "done");
  InsertLegacyJob(directory_path, "add:CHold3", "failed");

  OutboxOptions options;
  options.legacy_directory = directory_path;
  std::unique_ptr<SqliteEventStore> store = SqliteEventStore::Open(outbox_path, options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  CHECK(LegacyRowCount(directory_path) == 0);
  std::vector<OutboxRow> rows;
  REQUIRE_MESSAGE(ListJobs(outbox_path, "", true, &rows, &error), error);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].key == "add:CHold1");
  CHECK(rows[0].lease_owner.empty());  // the old process's lease does not carry over
  CHECK(rows[1].state == "done");
  CHECK(rows[2].state == "failed");
  // A retried webhook of a moved job is still a duplicate.
  CHECK(store->Enqueue(AddJob("CHold2"), &error) == EnqueueResult::kDuplicate);

  FakeRestClient client;
  OutboxDispatcher dispatcher(store.get(), &client);
  CHECK(dispatcher.RunOnce() == 1);
  REQUIRE(client.calls().size() == 1);
  CHECK(client.calls()[0].conversation_sid == "CHold1");

  // A second start finds nothing to move and changes nothing.
  store.reset();
  store = SqliteEventStore::Open(outbox_path, options, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  rows.clear();
  REQUIRE_MESSAGE(ListJobs(outbox_path, "", true, &rows, &error), error);
  CHECK(rows.size() == 3);
}

// The claim reads the pending jobs' index only, however many done jobs the file keeps (7 days
// of them): with ORDER BY id, SQLite chose a walk of the whole table once thousands of jobs
// were pending, and every claim then read every done job. Here 20 000 done and 8 000 pending.
TEST_CASE("outbox: the claim reads the pending index, not the done jobs") {
  testing::TempDir dir;
  const std::string path = dir.File("outbox.db");
  std::string error;
  std::unique_ptr<SqliteEventStore> store = SqliteEventStore::Open(path, {}, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i <"
                       " 28000) INSERT INTO outbox (key, action, conversation_sid, state,"
                       " next_attempt_at, created_at, updated_at) SELECT 'add:CH' || i, 'add',"
                       " 'CH' || i, CASE WHEN i <= 20000 THEN 'done' ELSE 'pending' END,"
                       " 1700000000000 + i, 1700000000000 + i, 1700000000000 + i FROM n",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_stmt* plan = nullptr;
  const std::string sql = "EXPLAIN QUERY PLAN " + SqliteEventStore::ClaimSql();
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &plan, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(plan, 1, kStart + 100000);
  sqlite3_bind_int64(plan, 2, kStart + 100000);
  sqlite3_bind_int64(plan, 3, 8);
  std::string steps;
  while (sqlite3_step(plan) == SQLITE_ROW) {
    steps += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
    steps += "; ";
  }
  sqlite3_finalize(plan);
  sqlite3_close(db);
  CAPTURE(steps);
  CHECK(steps.find("USING INDEX outbox_pending") != std::string::npos);
  CHECK(steps.find("SCAN outbox") == std::string::npos);
  CHECK(steps.find("TEMP B-TREE") == std::string::npos);  // the index's order, no sort
}

TEST_CASE("outbox: a new event database and its WAL and SHM files are 0600") {
  testing::TempDir dir;
  const std::string path = dir.File("outbox.db");
  std::string error;
  std::unique_ptr<SqliteEventStore> store = SqliteEventStore::Open(path, {}, &error);
  REQUIRE_MESSAGE(store != nullptr, error);
  Enqueue(store.get(), AddJob("CH1"));
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st;
    REQUIRE_MESSAGE(::stat(file.c_str(), &st) == 0, file);
    CHECK_MESSAGE((st.st_mode & 0777) == 0600, file);
  }
}

}  // namespace
}  // namespace frontline
