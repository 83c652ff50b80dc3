// An in-memory Directory for handler unit tests: plain vectors, linear scans, and a record of
// the last ListRequest so tests can check what a handler asked for. Not thread-safe, and not a
// model of SqliteDirectory's performance; only its observable contract.
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
  void AddCustomer(Customer customer) { customers_.push_back(std::move(customer)); }
  void AddWorker(Worker worker) { workers_.push_back(std::move(worker)); }
  // Makes the next ListCustomers calls answer `status` with no customers.
  void ForceListStatus(ListResult::Status status) { forced_status_ = status; }

  // The request of the latest ListCustomers call, if any.
  const std::optional<ListRequest>& last_list_request() const { return last_list_request_; }
  int find_worker_calls() const { return find_worker_calls_; }

  std::optional<Customer> FindById(std::string_view customer_id) override {
    for (const Customer& c : customers_) {
      if (c.customer_id == customer_id) return c;
    }
    return std::nullopt;
  }

  std::optional<Customer> FindByAddress(std::string_view address) override {
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
    if (best == nullptr) return std::nullopt;
    return *best;
  }

  // Tokens are "after:<customer_id>"; an unknown id in a token or an Anchor is refused.
  ListResult ListCustomers(const ListRequest& request) override {
    last_list_request_ = request;
    ListResult result;
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
      std::optional<Customer> anchor = FindById(after);
      if (!anchor) {
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

  std::optional<Worker> FindWorker(std::string_view identity) override {
    ++find_worker_calls_;
    for (const Worker& w : workers_) {
      if (w.identity == identity) return w;
    }
    return std::nullopt;
  }

  std::vector<std::string> WorkersWithCustomers() override {
    std::vector<std::string> out;
    for (const Customer& c : customers_) {
      if (!c.worker.empty()) out.push_back(c.worker);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  bool Ping(std::string* error) override {
    if (ping_fails_ && error != nullptr) *error = "disk I/O error";
    return !ping_fails_;
  }
  // Makes Ping report the store unavailable.
  void set_ping_fails(bool fails) { ping_fails_ = fails; }

 private:
  bool ping_fails_ = false;

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
