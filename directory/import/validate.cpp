#include "directory/import/validate.h"

#include <algorithm>
#include <utility>

#include "directory/text.h"

namespace frontline {
namespace {

bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; });
}

// An absolute http(s) URL with a host, or (when allow_mailto) a mailto: URL with an address.
bool IsAbsoluteUrl(std::string_view url, bool allow_mailto) {
  if (url.empty() || HasSpaceOrControl(url)) return false;
  if (allow_mailto && StartsWithNoCase(url, "mailto:")) return url.size() > 7;
  std::string_view rest;
  if (StartsWithNoCase(url, "https://")) {
    rest = url.substr(8);
  } else if (StartsWithNoCase(url, "http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  size_t host_end = rest.find_first_of("/?#");
  return (host_end == std::string_view::npos ? rest.size() : host_end) > 0;
}

bool IsChannelType(std::string_view type) {
  return type == "sms" || type == "whatsapp" || type == "chat" || type == "email";
}

bool CheckUtf8(std::string_view value, const char* field, std::string* reason) {
  if (IsValidUtf8(value)) return true;
  *reason = std::string("invalid UTF-8 in ") + field;
  return false;
}

}  // namespace

bool ValidateCustomer(const Customer& c, std::string* reason) {
  auto utf8 = [reason](const std::string& value, const char* field) {
    return CheckUtf8(value, field, reason);
  };
  if (c.customer_id.empty()) {
    *reason = "missing customer_id";
    return false;
  }
  if (!utf8(c.customer_id, "customer_id")) return false;
  if (c.display_name.empty()) {
    *reason = "missing display_name";
    return false;
  }
  if (!utf8(c.display_name, "display_name") || !utf8(c.avatar, "avatar") ||
      !utf8(c.worker, "worker") || !utf8(c.details.title, "details.title") ||
      !utf8(c.details.content, "details.content")) {
    return false;
  }
  if (!c.avatar.empty() && !IsAbsoluteUrl(c.avatar, false)) {
    *reason = "avatar \"" + c.avatar + "\" is not an absolute http(s) URL";
    return false;
  }
  for (size_t i = 0; i < c.channels.size(); ++i) {
    const Channel& ch = c.channels[i];
    if (!utf8(ch.type, "channel type") || !utf8(ch.value, "channel value")) {
      return false;
    }
    if (!IsChannelType(ch.type)) {
      *reason = "invalid channel type \"" + ch.type + "\" (expected sms, whatsapp, chat or email)";
      return false;
    }
    if (TrimWhitespace(ch.value).empty()) {
      *reason = "empty " + ch.type + " channel value";
      return false;
    }
  }
  for (const Link& link : c.links) {
    if (!utf8(link.type, "link type") || !utf8(link.value, "link value") ||
        !utf8(link.display_name, "link display_name")) {
      return false;
    }
    if (!IsAbsoluteUrl(link.value, true)) {
      *reason = "malformed link URL \"" + link.value +
                "\" (expected an absolute https://, http:// or mailto: URL)";
      return false;
    }
  }
  return true;
}

bool ValidateWorker(const Worker& w, std::string* reason) {
  if (w.identity.empty()) {
    *reason = "missing worker identity";
    return false;
  }
  return CheckUtf8(w.identity, "identity", reason) &&
         CheckUtf8(w.sms_number, "sms_number", reason) &&
         CheckUtf8(w.whatsapp_number, "whatsapp_number", reason);
}

bool IdSet::Insert(std::string_view id, const Location& where, Location* first) {
  if ((entries_.size() + 1) * 2 > slots_.size()) Grow();
  const size_t mask = slots_.size() - 1;
  const uint64_t hash = Hash(id);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t slot = slots_[i];
    if (slot == 0) {
      slots_[i] = static_cast<uint32_t>(entries_.size() + 1);
      entries_.push_back({hash, arena_.size(), id.size(), where});
      arena_.append(id);
      return true;
    }
    const Entry& e = entries_[slot - 1];
    if (e.hash == hash && std::string_view(arena_).substr(e.offset, e.length) == id) {
      *first = e.where;
      return false;
    }
  }
}

uint64_t IdSet::Hash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, then a final mix
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 32);
}

void IdSet::Grow() {
  std::vector<uint32_t> slots(slots_.empty() ? 1024 : slots_.size() * 2, 0);
  const size_t mask = slots.size() - 1;
  for (size_t k = 0; k < entries_.size(); ++k) {
    size_t i = entries_[k].hash & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = static_cast<uint32_t>(k + 1);
  }
  slots_.swap(slots);
}

bool ValidatingSink::AddCustomer(Customer&& customer, const Location& where,
                                 std::string* error) {
  std::string reason;
  if (!ValidateCustomer(customer, &reason)) {
    *error = where.ToString() + ": " + reason;
    return false;
  }
  Location first;
  if (find_duplicates_ && !customer_ids_.Insert(customer.customer_id, where, &first)) {
    *error = where.ToString() + ": duplicate customer_id \"" + customer.customer_id +
             "\" (first at " + first.ToString() + ")";
    return false;
  }
  if (!next_->AddCustomer(std::move(customer), where, error)) return false;
  ++customers_;
  return true;
}

bool ValidatingSink::AddWorker(Worker&& worker, const Location& where, std::string* error) {
  std::string reason;
  if (!ValidateWorker(worker, &reason)) {
    *error = where.ToString() + ": " + reason;
    return false;
  }
  if (find_duplicates_ && !worker_ids_.insert(worker.identity).second) {
    *error = where.ToString() + ": duplicate worker identity \"" + worker.identity + "\"";
    return false;
  }
  if (!next_->AddWorker(std::move(worker), where, error)) return false;
  ++workers_;
  return true;
}

}  // namespace frontline
