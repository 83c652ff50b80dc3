// An in-memory OptOutStore for handler unit tests: the conversation map and opt-out rows with
// the real stores' rules (events/optout_store.h), and a switch that makes every call fail as a
// store that cannot answer. Test-only; not thread-safe.
#ifndef FRONTLINE_TESTS_UNIT_FAKE_OPTOUT_STORE_H_
#define FRONTLINE_TESTS_UNIT_FAKE_OPTOUT_STORE_H_

#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "events/optout_store.h"

namespace frontline {

class FakeOptOutStore : public OptOutStore {
 public:
  bool MapConversation(const std::string& conversation_sid, const std::string& customer,
                       const std::string& proxy, std::string* error) override {
    if (fail_) return Fail(error);
    auto& entry = map_[conversation_sid];
    entry.first = customer;
    if (!proxy.empty()) entry.second = proxy;
    return true;
  }
  Lookup<ConversationState> FindConversation(const std::string& conversation_sid) override {
    if (fail_) return Lookup<ConversationState>::Unavailable("disk I/O error");
    auto it = map_.find(conversation_sid);
    if (it == map_.end()) return Lookup<ConversationState>::Absent();
    ConversationState state{it->second.first, it->second.second, false};
    state.opted_out = Decide(state.customer, state.proxy) != nullptr;
    return Lookup<ConversationState>::Found(state);
  }
  Lookup<OptOutRow> FindOptOut(const std::string& address, const std::string& proxy) override {
    if (fail_) return Lookup<OptOutRow>::Unavailable("disk I/O error");
    const OptOutRow* row = Decide(address, proxy);
    return row ? Lookup<OptOutRow>::Found(*row) : Lookup<OptOutRow>::Absent();
  }
  bool SetOptOut(const std::string& address, const std::string& proxy, bool opted_out,
                 const std::string& reason, std::string* error) override {
    if (fail_) return Fail(error);
    OptOutRow row{address, proxy, opted_out, reason, 0};
    auto every = rows_.find({address, ""});
    if (proxy.empty()) {
      for (auto it = rows_.lower_bound({address, ""});
           it != rows_.end() && it->first.first == address;) {
        it = rows_.erase(it);
      }
      if (opted_out) rows_[{address, ""}] = row;
    } else if (opted_out || every != rows_.end()) {
      rows_[{address, proxy}] = row;
    } else {
      rows_.erase({address, proxy});
    }
    return true;
  }
  bool ListOptOuts(std::vector<OptOutRow>* rows, std::string* error) override {
    if (fail_) return Fail(error);
    for (const auto& [key, row] : rows_) rows->push_back(row);
    return true;
  }

  void set_fail(bool fail) { fail_ = fail; }
  // The mapped (customer, proxy) of a conversation, or a pair of "" when unmapped.
  std::pair<std::string, std::string> mapped(const std::string& conversation_sid) const {
    auto it = map_.find(conversation_sid);
    return it == map_.end() ? std::pair<std::string, std::string>() : it->second;
  }
  size_t rows() const { return rows_.size(); }

 private:
  static bool Fail(std::string* error) {
    *error = "disk I/O error";
    return false;
  }
  const OptOutRow* Decide(const std::string& address, const std::string& proxy) const {
    auto own = rows_.find({address, proxy});
    if (own != rows_.end()) return own->second.opted_out ? &own->second : nullptr;
    auto every = rows_.find({address, ""});
    return every != rows_.end() ? &every->second : nullptr;
  }

  bool fail_ = false;
  std::map<std::string, std::pair<std::string, std::string>> map_;
  std::map<std::pair<std::string, std::string>, OptOutRow> rows_;
};

}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_FAKE_OPTOUT_STORE_H_
