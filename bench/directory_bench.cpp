// Directory-scale benchmark (not a test): generates N customers (100 workers, sms + whatsapp
// channels each) into a temporary JSON file, imports it with ImportFiles (the path of
// `frontline-fcgi import`), then measures the lookups the callbacks make, in-process through the
// Directory interface, and the same lookups done as naive full scans on the same data as an
// in-run baseline.
//
// The directory is a SQLite file in --dir by default; with --postgres URI it is the PostgreSQL
// database URI (schema --postgres-schema, default "frontline_bench", dropped at the end unless
// --keep): the same import path (PgImportWriter), PgDirectory for the lookups, and the baselines
// as sequential scans (index scans disabled on their connection). Both print the same lines;
// bench/directory_bench.py runs the two side by side.
//
//   directory_bench [--customers N] [--samples N] [--dir DIR] [--keep] [--import-only]
//                   [--budget SECONDS] [--postgres URI [--postgres-schema NAME]]
// --budget (default 60) bounds each measurement's time: it stops early (at least 20 samples)
// and says so.
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "db/postgres.h"
#include "directory/collation.h"
#include "directory/cursor.h"
#include "directory/import.h"
#include "directory/schema.h"
#include "directory/pg_directory.h"
#include "directory/sqlite_directory.h"
#include "directory/fold.h"
#include "directory/text.h"

namespace frontline {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 100;
const char* const kSyllables[] = {"ka",  "lo",  "mi",  "ra",  "to",  "ve",  "su",  "ne",
                                  "di",  "ba",  "fe",  "go",  "hu",  "ji",  "pe",  "qu",
                                  "sa",  "ti",  "vo",  "ze",  "an",  "el",  "or",  "us",
                                  "ly",  "mar", "ten", "ros", "vik", "dan", "bel", "cor",
                                  "fin", "gar", "hal", "jor", "kel", "lin", "mor", "nel"};
constexpr size_t kSyllableCount = sizeof(kSyllables) / sizeof(kSyllables[0]);

std::string Capitalise(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 0x20);
  return s;
}

// Deterministic synthetic data for customer i.
struct Generated {
  std::string id, first, last, phone, worker;
};
Generated Generate(uint64_t i) {
  Generated g;
  g.id = "C" + std::to_string(i);
  uint64_t h = i * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  g.first = Capitalise(std::string(kSyllables[h % kSyllableCount]) +
                       kSyllables[(h / kSyllableCount) % kSyllableCount]);
  uint64_t h2 = h / (kSyllableCount * kSyllableCount);
  g.last = Capitalise(std::string(kSyllables[h2 % kSyllableCount]) +
                      kSyllables[(h2 / kSyllableCount) % kSyllableCount] +
                      kSyllables[(h2 / kSyllableCount / kSyllableCount) % kSyllableCount]);
  // A bijection on [0, 1e9): unique numbers.
  g.phone = "+1" + std::to_string(2000000000ull + (i * 654435761ull) % 1000000000ull);
  g.worker = "worker" + std::to_string(i % kWorkers) + "@example.com";
  return g;
}

std::string Path(const std::string& dir, const char* name) { return dir + "/" + name; }

bool WriteJson(const std::string& path, uint64_t n) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  std::fputs("{\"customers\":[\n", f);
  for (uint64_t i = 0; i < n; ++i) {
    Generated g = Generate(i);
    std::fprintf(f,
                 "%s{\"customer_id\":\"%s\",\"display_name\":\"%s %s\",\"worker\":\"%s\","
                 "\"channels\":[{\"type\":\"sms\",\"value\":\"%s\"},"
                 "{\"type\":\"whatsapp\",\"value\":\"whatsapp:%s\"}]}",
                 i == 0 ? "" : ",\n", g.id.c_str(), g.first.c_str(), g.last.c_str(),
                 g.worker.c_str(), g.phone.c_str(), g.phone.c_str());
  }
  std::fputs("\n],\"workers\":[\n", f);
  for (int w = 0; w < kWorkers; ++w) {
    std::fprintf(f, "%s{\"identity\":\"worker%d@example.com\",\"sms_number\":\"+1800555%04d\"}",
                 w == 0 ? "" : ",\n", w, w);
  }
  std::fputs("\n]}\n", f);
  return std::fclose(f) == 0;
}

// The process's peak resident set so far (getrusage: ru_maxrss, KiB on Linux), in MB.
double PeakRssMb() {
  struct rusage usage;
  return ::getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_maxrss / 1024.0 : 0;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

struct Stats {
  double median_us = 0, p99_us = 0;
  int samples = 0;
  bool cut = false;  // fewer samples than asked: the time budget ran out
};

// Each measurement stops after this long (at least 20 samples), so that a slow lookup (a scan
// of millions of rows) cannot hold a run for hours; Print says how many samples it took.
double g_budget_s = 60;

Stats Measure(int samples, const std::function<void(int)>& call) {
  std::vector<double> us;
  us.reserve(samples);
  const auto began = Clock::now();
  for (int i = 0; i < samples; ++i) {
    auto start = Clock::now();
    call(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (i + 1 >= 20 && std::chrono::duration<double>(Clock::now() - began).count() > g_budget_s) {
      break;
    }
  }
  std::sort(us.begin(), us.end());
  Stats s;
  s.samples = static_cast<int>(us.size());
  s.cut = s.samples < samples;
  s.median_us = us[us.size() / 2];
  s.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return s;
}

void Print(const char* what, const Stats& s, double target_p99_us) {
  std::printf(
      "  %-44s median %9.1f us   p99 %9.1f us   %s\n", what, s.median_us, s.p99_us,
      target_p99_us <= 0 ? "" : (s.p99_us <= target_p99_us ? "(target met)" : "(TARGET MISSED)"));
  if (s.cut) std::printf("    (only %d samples: the %.0f s budget ran out)\n", s.samples, g_budget_s);
}

// A naive query run on its own connection, for the baseline.
class Naive {
 public:
  virtual ~Naive() = default;
  virtual int Run(const std::string& a, const std::string& b = "") = 0;
};

class SqliteNaive : public Naive {
 public:
  SqliteNaive(const std::string& path, const char* sql) {
    sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr);
  }
  ~SqliteNaive() override {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }
  int Run(const std::string& a, const std::string& b) override {
    sqlite3_reset(stmt_);
    sqlite3_bind_text(stmt_, 1, a.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_bind_parameter_count(stmt_) >= 2)
      sqlite3_bind_text(stmt_, 2, b.c_str(), -1, SQLITE_TRANSIENT);
    int rows = 0;
    while (sqlite3_step(stmt_) == SQLITE_ROW) ++rows;
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// The same on PostgreSQL: its own connection with index scans off, so the planner scans the
// table as SQLite's NOT INDEXED does (text parameters only).
class PgNaive : public Naive {
 public:
  PgNaive(const pg::ConnectOptions& connect, const char* sql) : sql_(sql) {
    std::string error;
    conn_ = pg::Connection::Open(connect, &error);
    if (conn_ == nullptr) {
      std::fprintf(stderr, "baseline connection: %s\n", error.c_str());
      return;
    }
    // Parallel workers would spread the scan over both cores; SQLite's scan uses one.
    (void)conn_->Exec("SET enable_indexscan = off; SET enable_indexonlyscan = off;"
                      " SET enable_bitmapscan = off; SET max_parallel_workers_per_gather = 0;"
                      " SET statement_timeout = 0");
  }
  int Run(const std::string& a, const std::string& b) override {
    if (conn_ == nullptr) return 0;
    std::vector<pg::Param> params = {a};
    if (std::strstr(sql_, "$2") != nullptr) {
      params.push_back(b);
    }
    pg::Result r = conn_->Prepared("naive", sql_, params);
    if (!r.ok()) {
      std::fprintf(stderr, "baseline: %s\n", r.error().c_str());
      return 0;
    }
    return r.rows();
  }

 private:
  std::unique_ptr<pg::Connection> conn_;
  const char* sql_;
};

// Bytes the directory's tables and their indexes take in `schema`, -1 on error.
int64_t PgSchemaBytes(const pg::ConnectOptions& connect) {
  std::string error;
  std::unique_ptr<pg::Connection> conn = pg::Connection::Open(connect, &error);
  if (conn == nullptr) return -1;
  pg::Result r = conn->Query(
      "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c"
      " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
      {connect.schema});
  return r.ok() && r.rows() == 1 ? r.Int(0, 0) : -1;
}

int Main(int argc, char** argv) {
  uint64_t n = 1000000;
  int samples = 2000;
  std::string dir;
  bool keep = false;
  bool import_only = false;
  std::string postgres;  // a PostgreSQL URI instead of the SQLite file
  std::string schema = "frontline_bench";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--customers" && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--samples" && i + 1 < argc) {
      samples = std::atoi(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--postgres" && i + 1 < argc) {
      postgres = argv[++i];
    } else if (arg == "--postgres-schema" && i + 1 < argc) {
      schema = argv[++i];
    } else if (arg == "--budget" && i + 1 < argc) {
      g_budget_s = std::atof(argv[++i]);
    } else if (arg == "--import-only") {
      import_only = true;
    } else if (arg == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--customers N] [--samples N] [--dir DIR] [--keep] [--import-only]\n"
                   "          [--budget SECONDS] [--postgres URI [--postgres-schema NAME]]\n",
                   argv[0]);
      return 64;
    }
  }
  if (n < 1000) n = 1000;
  if (!postgres.empty() && !pg::IsConnectionString(postgres)) {
    std::fprintf(stderr, "--postgres takes a postgresql:// URI\n");
    return 64;
  }
  const bool on_pg = !postgres.empty();
  pg::ConnectOptions connect;
  connect.conninfo = pg::LibpqConnInfo(postgres);
  connect.schema = schema;
  connect.application_name = "directory_bench";
  if (dir.empty()) {
    char tmpl[] = "/tmp/directory_bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  }
  const std::string json = Path(dir, "customers.json");
  const std::string db = on_pg ? postgres : Path(dir, "directory.db");
  std::printf(
      "directory_bench: %llu customers, %d workers, 2 channels each; %d samples per lookup\n",
      static_cast<unsigned long long>(n), kWorkers, samples);
  if (on_pg) {
    std::printf("  backend postgresql %s schema %s; JSON in %s\n",
                pg::MaskPassword(postgres).c_str(), schema.c_str(), dir.c_str());
  } else {
    std::printf("  backend sqlite %s; files in %s\n", sqlite3_libversion(), dir.c_str());
  }
  if (on_pg) {
    // A fresh schema: the import measures a load into empty tables, as for a new SQLite file.
    std::string error;
    std::unique_ptr<pg::Connection> conn = pg::Connection::Open(connect, &error);
    if (conn == nullptr) {
      std::fprintf(stderr, "cannot connect: %s\n", error.c_str());
      return 1;
    }
    pg::Result dropped =
        conn->Exec(("DROP SCHEMA IF EXISTS " + pg::QuoteIdentifier(schema) + " CASCADE").c_str());
    if (!dropped.ok()) {
      std::fprintf(stderr, "cannot drop schema %s: %s\n", schema.c_str(),
                   dropped.error().c_str());
      return 1;
    }
  }

  auto t0 = Clock::now();
  if (!WriteJson(json, n)) {
    std::fprintf(stderr, "cannot write %s\n", json.c_str());
    return 1;
  }
  double gen_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("generate: %.2f s, %.1f MB JSON\n", gen_s, FileSize(json) / 1e6);

  ImportStats stats;
  std::string error;
  ImportOptions import_options;
  import_options.postgres_schema = schema;
  const double rss_before_mb = PeakRssMb();
  t0 = Clock::now();
  if (!ImportFiles(db, {json}, import_options, &stats, &error)) {
    std::fprintf(stderr, "import failed: %s\n", error.c_str());
    return 1;
  }
  double import_s = std::chrono::duration<double>(Clock::now() - t0).count();
  double rate = stats.customers / import_s;
  std::printf("import:   %zu customers, %zu workers in %.2f s = %.0f customers/s %s\n",
              stats.customers, stats.workers, import_s, rate,
              rate >= 100000 ? "(target >= 100000 met)" : "(TARGET >= 100000 MISSED)");
  std::printf("import peak RSS: %.1f MB (%.1f MB before the import; this process only)\n",
              PeakRssMb(), rss_before_mb);
  if (on_pg) {
    std::printf("database: %.1f MB (tables and indexes of schema %s)\n",
                PgSchemaBytes(connect) / 1e6, schema.c_str());
  } else {
    std::printf("database: %.1f MB (+ WAL %.1f MB)\n", FileSize(db) / 1e6,
                FileSize(db + "-wal") / 1e6);
  }

  auto cleanup = [&] {
    if (keep) return;
    if (on_pg) {
      std::string drop_error;
      std::unique_ptr<pg::Connection> conn = pg::Connection::Open(connect, &drop_error);
      if (conn != nullptr) {
        (void)conn->Exec(("DROP SCHEMA " + pg::QuoteIdentifier(schema) + " CASCADE").c_str());
      }
    }
    for (const char* name :
         {"customers.json", "directory.db", "directory.db-wal", "directory.db-shm"}) {
      std::remove(Path(dir, name).c_str());
    }
    ::rmdir(dir.c_str());
  };
  if (import_only) {
    cleanup();
    return 0;
  }
  std::unique_ptr<Directory> directory;
  if (on_pg) {
    directory = PgDirectory::Open(connect, "", nullptr, &error);
  } else {
    directory = SqliteDirectory::Open(db, &error);
  }
  if (!directory) {
    std::fprintf(stderr, "open failed: %s\n", error.c_str());
    return 1;
  }
  std::mt19937_64 rng(42);
  std::vector<uint64_t> picks(samples);
  for (auto& p : picks) p = rng() % n;
  // Warm the page cache a little, as a running responder would be.
  for (int i = 0; i < 200; ++i) (void)directory->FindById(Generate(picks[i % samples]).id);

  int misses = 0;
  std::printf(on_pg ? "lookups (in-process, PostgreSQL over loopback TCP, prepared statements):\n"
                    : "lookups (in-process, real SQLite file):\n");
  Stats by_id = Measure(samples, [&](int i) {
    if (!directory->FindById(Generate(picks[i]).id).found()) ++misses;
  });
  Print("GetCustomerDetailsByCustomerId (FindById)", by_id, 1000);

  std::unique_ptr<Collation> root = Collation::Create("root", nullptr);
  Stats page = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.worker = g.worker;
    request.page_size = 30;
    request.page_token = EncodeCursor({root->SortKey(g.first + " " + g.last), g.id});
    ListResult r = directory->ListCustomers(request);
    if (r.customers.size() != 30 && !r.next_page_token.empty()) ++misses;
  });
  Print("GetCustomersList, 30 items for a worker", page, 1000);

  size_t name_hits = 0, phone_hits = 0;
  Stats search_name = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.worker = g.worker;
    request.query = g.last.substr(0, 5);
    ListResult r = directory->ListCustomers(request);
    name_hits += r.customers.size();
    if (r.customers.empty()) ++misses;
  });
  Print("search Query=<5-letter name prefix>, worker", search_name, 5000);

  Stats search_two = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.worker = g.worker;
    request.query = g.first.substr(0, 3) + " " + g.last.substr(0, 4);
    ListResult r = directory->ListCustomers(request);
    if (r.customers.empty()) ++misses;
  });
  Print("search Query=<first3> <last4>, worker", search_two, 5000);

  Stats search_phone = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.worker = g.worker;
    request.query =
        g.phone.substr(g.phone.size() - 7, 3) + "-" + g.phone.substr(g.phone.size() - 4);
    ListResult r = directory->ListCustomers(request);
    phone_hits += r.customers.size();
    if (r.customers.empty()) ++misses;
  });
  Print("search Query=<last 7 digits as 555-1234>, worker", search_phone, 5000);

  Stats search_short = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.worker = g.worker;
    request.query = g.last.substr(0, 2);  // too short for the index: filtered list walk
    ListResult r = directory->ListCustomers(request);
    if (r.customers.empty()) ++misses;
  });
  Print("search Query=<2-letter prefix>, worker (walk)", search_short, 5000);

  Stats search_all = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    ListRequest request;
    request.all_workers = true;
    request.query = g.last;
    ListResult r = directory->ListCustomers(request);
    if (r.customers.empty()) ++misses;
  });
  Print("search Query=<last name>, all customers", search_all, 5000);

  Stats by_address = Measure(samples, [&](int i) {
    Generated g = Generate(picks[i]);
    std::string address =
        "whatsapp:" + g.phone.substr(0, 2) + " " + g.phone.substr(2, 3) + "-" + g.phone.substr(5);
    if (!directory->FindByAddress(address).found()) ++misses;
  });
  Print("FindByAddress (whatsapp:+1 200-…)", by_address, 1000);
  std::printf("  (average hits per search page: name %.1f, phone %.1f; misses: %d)\n",
              static_cast<double>(name_hits) / samples, static_cast<double>(phone_hits) / samples,
              misses);

  // Baseline: the same questions answered by scanning, on the same data.
  auto naive = [&](const char* sqlite_sql, const char* pg_sql) -> std::unique_ptr<Naive> {
    if (on_pg) return std::make_unique<PgNaive>(connect, pg_sql);
    return std::make_unique<SqliteNaive>(db, sqlite_sql);
  };
  const int naive_samples = std::max(5, std::min(50, samples / 40));
  std::printf("baseline (naive scans, %d samples each):\n", naive_samples);
  {
    auto scan = naive(
        "SELECT customer_id FROM customers NOT INDEXED WHERE worker = ?1 AND"
        " display_name LIKE ?2 ORDER BY lower(display_name), customer_id LIMIT 31",
        "SELECT customer_id FROM customers WHERE worker = $1 AND"
        " display_name ILIKE $2 ORDER BY lower(display_name), customer_id LIMIT 31");
    Stats s = Measure(naive_samples, [&](int i) {
      Generated g = Generate(picks[i]);
      scan->Run(g.worker, "%" + g.last.substr(0, 5) + "%");
    });
    Print("name search by LIKE '%term%', full scan", s, 0);
    std::printf("    -> indexed search is %.0fx faster (median)\n",
                s.median_us / search_name.median_us);
  }
  {
    auto scan = naive(
        "SELECT customer_id FROM customers NOT INDEXED WHERE worker = ?1 AND"
        " CAST(channels AS TEXT) LIKE ?2 LIMIT 31",
        "SELECT customer_id FROM customers WHERE worker = $1 AND"
        " position(convert_to($2, 'UTF8') IN channels) > 0 LIMIT 31");
    Stats s = Measure(naive_samples, [&](int i) {
      Generated g = Generate(picks[i]);
      std::string digits = g.phone.substr(g.phone.size() - 7);
      scan->Run(g.worker, on_pg ? digits : "%" + digits + "%");
    });
    Print("phone search by LIKE '%digits%', full scan", s, 0);
    std::printf("    -> indexed search is %.0fx faster (median)\n",
                s.median_us / search_phone.median_us);
  }
  {
    auto scan = naive(
        "SELECT id FROM customers NOT INDEXED WHERE instr(channels, CAST(?1 AS BLOB)) > 0"
        " LIMIT 1",
        "SELECT id FROM customers WHERE position(convert_to($1, 'UTF8') IN channels) > 0"
        " LIMIT 1");
    Stats s =
        Measure(naive_samples, [&](int i) { scan->Run("whatsapp:" + Generate(picks[i]).phone); });
    Print("address lookup by exact value, full scan", s, 0);
    std::printf("    -> FindByAddress is %.0fx faster (median)\n",
                s.median_us / by_address.median_us);
  }
  {
    auto scan = naive(
        "SELECT customer_id FROM customers NOT INDEXED WHERE worker = ?1 AND"
        " (lower(display_name), customer_id) > (?2, '') ORDER BY lower(display_name),"
        " customer_id LIMIT 31",
        "SELECT customer_id FROM customers WHERE worker = $1 AND"
        " (lower(display_name), customer_id) > ($2, '') ORDER BY lower(display_name),"
        " customer_id LIMIT 31");
    Stats s = Measure(naive_samples, [&](int i) {
      Generated g = Generate(picks[i]);
      scan->Run(g.worker, FoldForSearch(g.first + " " + g.last));
    });
    Print("30-item page by scan + sort", s, 0);
    std::printf("    -> keyset page is %.0fx faster (median)\n", s.median_us / page.median_us);
  }
  directory.reset();
  cleanup();
  return 0;
}

}  // namespace
}  // namespace frontline

int main(int argc, char** argv) { return frontline::Main(argc, argv); }
