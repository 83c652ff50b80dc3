#include "directory/search.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>

#include "directory/address.h"
#include "directory/fold.h"

namespace frontline {
namespace {

// Whitespace and control characters separate words and query terms.
bool IsSeparator(char c) { return c == ' ' || (static_cast<unsigned char>(c) < 0x20); }

void AddToken(std::string_view token, std::vector<std::string>* tokens) {
  if (token.empty()) return;
  if (std::find(tokens->begin(), tokens->end(), token) != tokens->end()) return;
  tokens->emplace_back(token);
}

// True when the code point at byte `i` of `word` is a letter, digit or mark (part of a
// word); `*next` is set to the byte after it.
bool WordCharAt(std::string_view word, size_t i, size_t* next) {
  auto c = static_cast<unsigned char>(word[i]);
  if (c < 0x80) {
    *next = i + 1;
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  int32_t offset = static_cast<int32_t>(i);
  UChar32 cp;
  U8_NEXT(word.data(), offset, static_cast<int32_t>(word.size()), cp);
  *next = static_cast<size_t>(offset);
  if (cp < 0) return false;
  return u_isalnum(cp) || (U_GET_GC_MASK(cp) & U_GC_M_MASK) != 0;
}

// Adds the tokens of one folded word: the word, and its rest from each place where a run of
// letters and digits starts after punctuation.
void AddWord(std::string_view word, std::vector<std::string>* tokens) {
  AddToken(word, tokens);
  bool previous_is_word_char = true;
  size_t i = 0;
  while (i < word.size()) {
    size_t next;
    bool word_char = WordCharAt(word, i, &next);
    if (word_char && !previous_is_word_char) AddToken(word.substr(i), tokens);
    previous_is_word_char = word_char;
    i = next;
  }
}

// Adds the tokens of every separator-delimited word of folded `text`.
void AddWords(std::string_view text, std::vector<std::string>* tokens) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSeparator(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSeparator(text[i])) ++i;
    if (i > start) AddWord(text.substr(start, i - start), tokens);
  }
}

// Whether digit term `d` matches: the start of a word token, anywhere in a phone token, or
// either of those without a leading 0.
bool DigitsMatch(std::string_view search_text, std::string_view d) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (d.empty()) return false;
    size_t at = 0;
    while ((at = search_text.find(d, at)) != std::string_view::npos) {
      if (at == 0) {
        ++at;
        continue;
      }
      if (search_text[at - 1] == ' ') return true;  // a word token's start
      // Inside a phone token when the nearest marker or space before it is a marker.
      size_t before = search_text.find_last_of(std::string_view(" \x1f", 2), at - 1);
      if (before != std::string_view::npos && search_text[before] == kPhoneTokenMarker) {
        return true;
      }
      ++at;
    }
    if (d.front() != '0') return false;
    d.remove_prefix(1);
  }
  return false;
}

bool WordMatches(std::string_view search_text, std::string_view w) {
  size_t at = 0;
  while ((at = search_text.find(w, at)) != std::string_view::npos) {
    if (at > 0 && search_text[at - 1] == ' ') return true;
    ++at;
  }
  return false;
}

}  // namespace

std::vector<std::string> SearchTokens(std::string_view display_name,
                                      const std::vector<Channel>& channels) {
  std::vector<std::string> tokens;
  AddWords(FoldForSearch(display_name), &tokens);
  for (const Channel& channel : channels) {
    std::string normalised = NormaliseAddress(channel.value);
    if (IsPhoneLike(channel.value)) {
      AddToken(std::string(1, kPhoneTokenMarker) + normalised, &tokens);
    } else {
      AddWords(FoldForSearch(normalised), &tokens);
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

std::vector<std::string> SplitSearchText(std::string_view search_text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < search_text.size()) {
    size_t end = search_text.find(' ', i);
    if (end == std::string_view::npos) end = search_text.size();
    if (end > i) tokens.emplace_back(search_text.substr(i, end - i));
    i = end + 1;
  }
  return tokens;
}

std::vector<std::string> IndexTerms(const std::vector<std::string>& tokens) {
  std::vector<std::string> terms;
  for (const std::string& token : tokens) {
    if (!token.empty() && token.front() == kPhoneTokenMarker) {
      std::string_view digits = std::string_view(token).substr(1);
      for (size_t i = 0; i < digits.size(); ++i) AddToken(digits.substr(i), &terms);
    } else {
      AddToken(token, &terms);
    }
  }
  return terms;
}

std::vector<std::string> ParseSearchQuery(std::string_view query) {
  std::vector<std::string> terms;
  auto add = [&terms](std::string term) {
    if (!term.empty() && terms.size() < kMaxSearchTerms &&
        std::find(terms.begin(), terms.end(), term) == terms.end()) {
      terms.push_back(std::move(term));
    }
  };
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && IsSeparator(query[i])) ++i;
    size_t start = i;
    while (i < query.size() && !IsSeparator(query[i])) ++i;
    std::string_view raw = query.substr(start, i - start);
    if (raw.empty()) continue;
    if (IsPhoneLike(raw)) {
      add(NormaliseAddress(raw));
      continue;
    }
    // Folding may turn a character into a space (U+00A0) or drop it (U+200B): split again.
    const std::string folded = FoldForSearch(raw);
    size_t j = 0;
    while (j < folded.size()) {
      while (j < folded.size() && IsSeparator(folded[j])) ++j;
      size_t part = j;
      while (j < folded.size() && !IsSeparator(folded[j])) ++j;
      if (j > part) add(folded.substr(part, j - part));
    }
  }
  return terms;
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
  std::string joined_digits;
  size_t digit_terms = 0;
  bool every_digit_term = true;
  size_t i = 0;
  while (i < terms.size()) {
    size_t end = terms.find(' ', i);
    if (end == std::string_view::npos) end = terms.size();
    std::string_view term = terms.substr(i, end - i);
    i = end + 1;
    if (term.empty()) continue;
    if (IsDigits(term)) {
      ++digit_terms;
      joined_digits.append(term);
      if (every_digit_term && !DigitsMatch(search_text, term)) every_digit_term = false;
    } else if (!WordMatches(search_text, term)) {
      return false;
    }
  }
  if (digit_terms == 0 || every_digit_term) return true;
  return digit_terms > 1 && DigitsMatch(search_text, joined_digits);
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

IndexRange DrivingRange(const std::vector<std::string>& terms) {
  IndexRange range;
  if (terms.empty()) return range;
  // Longest by code points: the likeliest to be rare.
  auto length = [](const std::string& s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
  };
  // The first digit term may lose a leading 0 when the digit terms match joined (a trunk
  // prefix): a lone "0" there implies nothing, so it drives only when nothing else can.
  size_t digit_terms = 0;
  const std::string* first_digits = nullptr;
  for (const std::string& term : terms) {
    if (!IsDigits(term)) continue;
    if (first_digits == nullptr) first_digits = &term;
    ++digit_terms;
  }
  auto weight = [&](const std::string& term) {
    if (digit_terms > 1 && &term == first_digits && term == "0") return size_t{0};
    return length(term);
  };
  const std::string* best = &terms.front();
  for (const std::string& term : terms) {
    if (weight(term) > weight(*best)) best = &term;
  }
  range.lo = *best;
  range.hi = PrefixUpperBound(*best);
  if (IsDigits(*best) && best->size() > 1 && best->front() == '0') {
    range.lo2 = best->substr(1);
    range.hi2 = PrefixUpperBound(range.lo2);
  }
  return range;
}

std::string PrefixUpperBound(std::string_view prefix) {
  std::string out(prefix);
  out.push_back('\xFF');
  return out;
}

}  // namespace frontline
