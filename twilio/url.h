// Small pure helpers for the URLs the responder is configured with and logs: hiding the secrets
// a URL can carry (userinfo, query values) before it reaches a log line or check-config, and
// telling whether a URL's host is this machine (where plain http:// cannot leak a credential).
// Pure functions over their arguments; safe from any thread.
#ifndef FRONTLINE_TWILIO_URL_H_
#define FRONTLINE_TWILIO_URL_H_

#include <string>
#include <string_view>

namespace frontline {

// What RedactUrl puts in place of a hidden part.
inline constexpr std::string_view kRedacted = "***";

// `url` fit for a log line: the userinfo of `scheme://user:password@host` becomes `***@`, the
// value of every query parameter becomes `***` (keys, the order and empty values are kept:
// `?a=secret&b=&c` becomes `?a=***&b=&c`), and a non-empty fragment becomes `#***`. Scheme,
// host, port and path are kept verbatim. Text without `scheme://` (or a leading `//`) has no
// authority, so only its query and fragment are touched. Never fails.
std::string RedactUrl(std::string_view url);

// `text` with every URL in it passed through RedactUrl, for messages from libraries that quote a
// URL (libcurl puts a proxy URL, password included, in some errors) on their way to a log. A URL
// is a scheme and "://" up to a blank, a quote or <>; one that follows a quote runs to the
// matching quote, so a quoted URL is redacted whole even with a blank inside. Never fails.
std::string RedactUrlsInText(std::string_view text);

// The host of `scheme://[userinfo@]host[:port][/path...]`, lower-cased, without the brackets of
// an IPv6 literal (`http://[::1]:8080/` gives `::1`). Empty when `url` has no `://` or no host.
std::string UrlHost(std::string_view url);

// True when `host` (as UrlHost returns it) is this machine by definition, with no name lookup:
// `localhost` (any case), an IPv4 literal in 127.0.0.0/8 or the IPv6 literal ::1. Only exact
// literals count: `127.0.0.1.example.com`, `127.1` and `::ffff:127.0.0.1` are not loopback.
bool IsLoopbackHost(std::string_view host);

}  // namespace frontline

#endif  // FRONTLINE_TWILIO_URL_H_
