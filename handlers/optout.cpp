#include "handlers/optout.h"

#include <algorithm>

#include "directory/address.h"
#include "directory/fold.h"
#include "directory/text.h"
#include "events/outbox.h"
#include "handlers/http.h"
#include "handlers/services.h"

namespace frontline {
namespace {

constexpr size_t kMaxKeywordBytes = 64;

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Letters and digits only: ASCII alphanumerics, and any non-ASCII code point (a letter of
// another script or an accented one; bytes of UTF-8 sequences are >= 0x80).
bool IsWordByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

std::vector<std::string_view> SplitWords(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsAsciiSpace(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsAsciiSpace(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

bool ParseSet(const char* name, std::string_view text, std::vector<std::string>* out,
              std::string* error) {
  std::vector<std::string_view> words = SplitWords(text);
  if (words.empty()) {
    *error = std::string(name) + ": no keyword";
    return false;
  }
  for (std::string_view word : words) {
    if (!IsValidUtf8(word)) {
      *error = std::string(name) + ": a keyword is not valid UTF-8";
      return false;
    }
    if (word.size() > kMaxKeywordBytes) {
      *error = std::string(name) + ": '" + std::string(word) + "' is longer than 64 bytes";
      return false;
    }
    if (!std::all_of(word.begin(), word.end(), IsWordByte)) {
      *error = std::string(name) + ": '" + std::string(word) + "' must be letters and digits only";
      return false;
    }
    std::string folded = FoldForSearch(word);
    if (std::find(out->begin(), out->end(), folded) == out->end()) out->push_back(folded);
  }
  return true;
}

bool Contains(const std::vector<std::string>& words, const std::string& word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

}  // namespace

OptOutKeywords::OptOutKeywords() {
  std::string error;
  ParseSet("stop", kDefaultStop, &stop_, &error);
  ParseSet("start", kDefaultStart, &start_, &error);
}

std::optional<OptOutKeywords> OptOutKeywords::Parse(std::string_view stop, std::string_view start,
                                                    std::string* error) {
  OptOutKeywords keywords;
  if (!SplitWords(stop).empty()) {
    keywords.stop_.clear();
    if (!ParseSet("--optout.stop-keywords", stop, &keywords.stop_, error)) return std::nullopt;
  }
  if (!SplitWords(start).empty()) {
    keywords.start_.clear();
    if (!ParseSet("--optout.start-keywords", start, &keywords.start_, error)) return std::nullopt;
  }
  for (const std::string& word : keywords.stop_) {
    if (Contains(keywords.start_, word)) {
      *error = "--optout.stop-keywords and --optout.start-keywords: '" + word +
               "' is in both (compared case- and accent-insensitively)";
      return std::nullopt;
    }
  }
  return keywords;
}

Keyword OptOutKeywords::Classify(std::string_view body) const {
  body = TrimWhitespace(body);
  // Longer than any keyword can fold to: not one (and no fold of a long message per request).
  if (body.empty() || body.size() > 4 * kMaxKeywordBytes) return Keyword::kNone;
  const std::string folded = FoldForSearch(body);
  if (Contains(stop_, folded)) return Keyword::kStop;
  if (Contains(start_, folded)) return Keyword::kStart;
  return Keyword::kNone;
}

std::optional<OptOutChange> DecideKeyword(Keyword keyword, std::string_view author,
                                          const ConversationState* mapped) {
  if (keyword == Keyword::kNone) return std::nullopt;
  const std::string who = NormaliseAddress(author);
  if (who.empty()) return std::nullopt;
  OptOutChange change;
  change.opted_out = keyword == Keyword::kStop;
  if (mapped != nullptr) {
    if (who != mapped->customer) return std::nullopt;
    change.address = mapped->customer;
    change.proxy = mapped->proxy;  // "" when unknown: every proxy, the safe side
    return change;
  }
  if (!IsPhoneLike(author)) return std::nullopt;
  change.address = who;
  change.proxy.clear();  // unmapped: every proxy
  return change;
}

bool ShouldBlockMessage(std::string_view author, const ConversationState* mapped) {
  if (mapped == nullptr || !mapped->opted_out) return false;
  return NormaliseAddress(author) != mapped->customer;
}

namespace {

// The binding `request` shows, normalised; false when there is none to record.
bool BindingOf(const Request& request, const Services& services, std::string* customer,
               std::string* proxy) {
  if (services.optouts == nullptr || request.form.Get("ConversationSid").empty()) return false;
  *customer = NormaliseAddress(request.form.Get("MessagingBinding.Address"));
  if (customer->empty()) return false;
  *proxy = NormaliseAddress(request.form.Get("MessagingBinding.ProxyAddress"));
  return true;
}

}  // namespace

void AttachConversationMap(const Request& request, const Services& services, OutboxJob* job) {
  if (!BindingOf(request, services, &job->map_customer, &job->map_proxy)) {
    job->map_customer.clear();
    job->map_proxy.clear();
  }
}

bool RecordConversationMap(const Request& request, Services& services, std::string* error) {
  std::string customer, proxy;
  if (!BindingOf(request, services, &customer, &proxy)) return true;
  return services.optouts->MapConversation(std::string(request.form.Get("ConversationSid")),
                                           customer, proxy, error);
}

}  // namespace frontline
