// An in-memory Directory for handler unit tests: plain vectors, linear scans, a record of the
// last ListRequest so tests can check what a handler asked for, and an error mode in which
// chosen lookups answer unavailable, as a store with a failing disk would. Not thread-safe, and
// not a model of SqliteDirectory's performance; only its observable contract.
#ifndef FRONTLINE_TESTS_UNIT_FAKE_DIRECTORY_H_
#define FRONTLINE_TESTS_UNIT_FAKE_DIRECTORY_H_

#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "directory/directory.h"

namespace frontline {

class FakeDirectory : public Directory {
 public:
  // Lookups that set_unavailable can make fail, as bits.
  enum Method : unsigned {
    kFindById = 1,
    kFindByAddress = 2,
    kListCustomers = 4,
    kFindWorker = 8,
    kWorkersWithCustomers = 16,
    kPing = 32,
    kAllMethods = 63,
  };
  static constexpr const char* kError = "disk I/O error (fake)";

  // The lookups in `methods` answer unavailable with kError until set_unavailable(0).
  void set_unavailable(unsigned methods) { unavailable_ = methods; }

  void AddCustomer(Customer customer) { customers_.push_back(std::move(customer)); }
  void AddWorker(Worker worker) { workers_.push_back(std::move(worker)); }
  // Makes the next ListCustomers calls answer `status` with no customers.
  void ForceListStatus(ListResult::Status status) { forced_status_ = status; }

  // The request of the latest ListCustomers call, if any.
  const std::optional<ListRequest>& last_list_request() const { return last_list_request_; }
  int find_worker_calls() const { return find_worker_calls_; }

  Lookup<Customer> FindById(std::string_view customer_id) override {
    if (unavailable_ & kFindById) return Lookup<Customer>::Unavailable(kError);
    for (const Customer& c : customers_) {
      if (c.customer_id == customer_id) return Lookup<Customer>::Found(c);
    }
    return Lookup<Customer>::Absent();
  }

  Lookup<Customer> FindByAddress(std::string_view address) override {
    if (unavailable_ & kFindByAddress) return Lookup<Customer>::Unavailable(kError);
    const std::string wanted = Digits(address);
    const Customer* best = nullptr;
    for (const Customer& c : customers_) {
      for (const Channel& channel : c.channels) {
        if (!wanted.empty() && Digits(channel.value) == wanted &&
            (best == nullptr || c.customer_id < best->customer_id)) {
          best = &c;
        }
      }
    }
    if (best == nullptr) return Lookup<Customer>::Absent();
    return Lookup<Customer>::Found(*best);
  }

  // Tokens are "after:<customer_id>"; an unknown id in a token or an Anchor is refused.
  ListResult ListCustomers(const ListRequest& request) override {
    last_list_request_ = request;
    ListResult result;
    if (unavailable_ & kListCustomers) {
      result.status = ListResult::Status::kUnavailable;
      result.error = kError;
      return result;
    }
    if (forced_status_ != ListResult::Status::kOk) {
      result.status = forced_status_;
      return result;
    }
    std::vector<const Customer*> rows;
    for (const Customer& c : customers_) {
      if (!request.all_workers && c.worker != request.worker) continue;
      if (!Matches(c, request.query)) continue;
      rows.push_back(&c);
    }
    std::sort(rows.begin(), rows.end(),
              [](const Customer* a, const Customer* b) { return SortKey(*a) < SortKey(*b); });
    size_t start = 0;
    std::string after;
    if (!request.page_token.empty()) {
      if (request.page_token.rfind("after:", 0) != 0) {
        result.status = ListResult::Status::kBadPageToken;
        return result;
      }
      after = request.page_token.substr(6);
    } else {
      after = request.anchor;
    }
    if (!after.empty()) {
      const Customer* anchor = nullptr;
      for (const Customer& c : customers_) {
        if (c.customer_id == after) anchor = &c;
      }
      if (anchor == nullptr) {
        result.status = request.page_token.empty() ? ListResult::Status::kBadAnchor
                                                   : ListResult::Status::kBadPageToken;
        return result;
      }
      const auto key = SortKey(*anchor);
      while (start < rows.size() && !(key < SortKey(*rows[start]))) ++start;
    }
    for (size_t i = start; i < rows.size() && result.customers.size() < request.page_size; ++i) {
      result.customers.push_back({rows[i]->customer_id, rows[i]->display_name, rows[i]->avatar});
    }
    if (start + result.customers.size() < rows.size() && !result.customers.empty()) {
      result.next_page_token = "after:" + result.customers.back().customer_id;
    }
    return result;
  }

  Lookup<Worker> FindWorker(std::string_view identity) override {
    ++find_worker_calls_;
    if (unavailable_ & kFindWorker) return Lookup<Worker>::Unavailable(kError);
    for (const Worker& w : workers_) {
      if (w.identity == identity) return Lookup<Worker>::Found(w);
    }
    return Lookup<Worker>::Absent();
  }

  Lookup<std::vector<std::string>> WorkersWithCustomers() override {
    if (unavailable_ & kWorkersWithCustomers) {
      return Lookup<std::vector<std::string>>::Unavailable(kError);
    }
    std::vector<std::string> out;
    for (const Customer& c : customers_) {
      if (!c.worker.empty()) out.push_back(c.worker);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return Lookup<std::vector<std::string>>::Found(std::move(out));
  }

  bool Ping(std::string* error) override {
    const bool fails = ping_fails_ || (unavailable_ & kPing) != 0;
    if (fails && error != nullptr) *error = "disk I/O error";
    return !fails;
  }
  // Makes Ping report the store unavailable.
  void set_ping_fails(bool fails) { ping_fails_ = fails; }

 private:
  bool ping_fails_ = false;
  unsigned unavailable_ = 0;

  static std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  static std::string Digits(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c >= '0' && c <= '9') out.push_back(c);
    }
    return out;
  }
  static std::pair<std::string, std::string> SortKey(const Customer& c) {
    return {Lower(c.display_name), c.customer_id};
  }
  static bool Matches(const Customer& c, const std::string& query) {
    std::istringstream terms(query);
    std::string term;
    while (terms >> term) {
      bool found = Lower(c.display_name).find(Lower(term)) != std::string::npos;
      for (const Channel& channel : c.channels) {
        found = found || Lower(channel.value).find(Lower(term)) != std::string::npos;
      }
      if (!found) return false;
    }
    return true;
  }

  std::vector<Customer> customers_;
  std::vector<Worker> workers_;
  ListResult::Status forced_status_ = ListResult::Status::kOk;
  std::optional<ListRequest> last_list_request_;
  int find_worker_calls_ = 0;
};

}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_FAKE_DIRECTORY_H_
