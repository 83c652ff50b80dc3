#include "directory/cursor.h"

#include <cstdint>

namespace frontline {
namespace {

constexpr std::string_view kVersionPrefix = "c1";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

uint32_t Fnv1a(std::string_view bytes) {
  uint32_t h = 2166136261u;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

void AppendU32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

uint32_t ReadU32(std::string_view s) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = DecodeChar(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // Spare bits of the last character must be zero, so every byte string has one encoding.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string EncodeCursor(const CursorPosition& position) {
  std::string payload;
  payload.reserve(position.sort_key.size() + position.customer_id.size() + 8);
  AppendU32(static_cast<uint32_t>(position.sort_key.size()), &payload);
  payload += position.sort_key;
  payload += position.customer_id;
  AppendU32(Fnv1a(payload), &payload);
  return std::string(kVersionPrefix) + Base64UrlEncode(payload);
}

std::optional<CursorPosition> DecodeCursor(std::string_view token) {
  if (token.substr(0, kVersionPrefix.size()) != kVersionPrefix) return std::nullopt;
  std::optional<std::string> payload = Base64UrlDecode(token.substr(kVersionPrefix.size()));
  if (!payload || payload->size() < 8) return std::nullopt;
  std::string_view p = *payload;
  std::string_view body = p.substr(0, p.size() - 4);
  if (ReadU32(p.substr(p.size() - 4)) != Fnv1a(body)) return std::nullopt;
  uint32_t key_size = ReadU32(body);
  if (key_size > body.size() - 4) return std::nullopt;
  CursorPosition position;
  position.sort_key = std::string(body.substr(4, key_size));
  position.customer_id = std::string(body.substr(4 + key_size));
  return position;
}

}  // namespace frontline
