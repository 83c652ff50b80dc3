#include "directory/search.h"

#include <algorithm>

#include "directory/address.h"
#include "directory/text.h"

namespace frontline {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsAsciiPunctuation(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x80 && !IsSpace(c) && !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
         !(c >= 'A' && c <= 'Z');
}

void AddToken(std::string_view token, std::vector<std::string>* tokens) {
  if (token.empty()) return;
  if (std::find(tokens->begin(), tokens->end(), token) != tokens->end()) return;
  tokens->emplace_back(token);
}

// Adds each whitespace-separated word of already folded `text`, and the punctuation-free parts
// of words holding punctuation.
void AddWords(std::string_view text, std::vector<std::string>* tokens) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    std::string_view word = text.substr(start, i - start);
    if (word.empty()) continue;
    AddToken(word, tokens);
    if (std::any_of(word.begin(), word.end(), IsAsciiPunctuation)) {
      size_t j = 0;
      while (j < word.size()) {
        while (j < word.size() && IsAsciiPunctuation(word[j])) ++j;
        size_t part_start = j;
        while (j < word.size() && !IsAsciiPunctuation(word[j])) ++j;
        AddToken(word.substr(part_start, j - part_start), tokens);
      }
    }
  }
}

}  // namespace

std::vector<std::string> SearchTokens(std::string_view display_name,
                                      const std::vector<Channel>& channels) {
  std::vector<std::string> tokens;
  AddWords(FoldCase(display_name), &tokens);
  for (const Channel& channel : channels) {
    std::string normalised = NormaliseAddress(channel.value);
    if (IsPhoneLike(channel.value)) {
      AddToken(normalised, &tokens);
      AddToken(ReversedDigitsToken(normalised), &tokens);
    } else {
      AddWords(FoldCase(normalised), &tokens);
    }
  }
  return tokens;
}

std::string JoinSearchTokens(const std::vector<std::string>& tokens) {
  std::string out = " ";
  for (const std::string& token : tokens) {
    out += token;
    out += ' ';
  }
  return out;
}

std::vector<std::string> ParseSearchQuery(std::string_view query) {
  std::vector<std::string> terms;
  auto add = [&terms](std::string term) {
    if (!term.empty() && terms.size() < kMaxSearchTerms &&
        std::find(terms.begin(), terms.end(), term) == terms.end()) {
      terms.push_back(std::move(term));
    }
  };
  std::string number;  // adjacent phone-like pieces, joined
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && IsSpace(query[i])) ++i;
    size_t start = i;
    while (i < query.size() && !IsSpace(query[i])) ++i;
    std::string_view raw = query.substr(start, i - start);
    if (raw.empty()) continue;
    // A '+' may only start a number, so "+1 555" joins but "555 +1" is two numbers.
    if (IsPhoneLike(raw) && !(raw.front() == '+' && !number.empty())) {
      number += NormaliseAddress(raw);
      continue;
    }
    add(std::move(number));
    number.clear();
    if (IsPhoneLike(raw)) {
      number = NormaliseAddress(raw);
    } else {
      add(FoldCase(raw));
    }
  }
  add(std::move(number));
  return terms;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string ReversedDigitsToken(std::string_view digits) {
  std::string out(1, kReversedDigitsMarker);
  out.append(digits.rbegin(), digits.rend());
  return out;
}

std::string JoinTerms(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& term : terms) {
    if (!out.empty()) out += ' ';
    out += term;
  }
  return out;
}

bool MatchesAllTerms(std::string_view search_text, std::string_view terms) {
  std::string needle;
  size_t i = 0;
  while (i < terms.size()) {
    size_t end = terms.find(' ', i);
    if (end == std::string_view::npos) end = terms.size();
    if (end > i) {
      std::string_view term = terms.substr(i, end - i);
      needle.assign(1, ' ');
      needle.append(term);
      if (search_text.find(needle) == std::string_view::npos) {
        // A number also matches at its end (see ReversedDigitsToken).
        if (!IsDigits(term)) return false;
        needle.assign(1, ' ');
        needle.append(ReversedDigitsToken(term));
        if (search_text.find(needle) == std::string_view::npos) return false;
      }
    }
    i = end + 1;
  }
  return true;
}

std::string PrefixUpperBound(std::string_view prefix) {
  std::string out(prefix);
  out.push_back('\xFF');
  return out;
}

}  // namespace frontline
