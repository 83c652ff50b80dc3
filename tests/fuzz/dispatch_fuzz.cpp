// Fuzz target: one whole request, FastCGI params and body as any bytes, through the real adapter
// (fcgi/adapter.h ReadRequest, WriteResponse over in-memory libfcgi streams) and Dispatch with
// every route, over the unit tests' FakeDirectory (holding the fuzz fixture customers; with
// FUZZ_SQLITE a SqliteDirectory holding the same), FakeOutbox and FakeOptOutStore (conversation
// CH1 mapped to +15558675310 on +15550001111, that customer opted out on every proxy).
//
// Input: lines NAME=VALUE (the FastCGI params, e.g. REQUEST_METHOD=POST) up to the first empty
// line, then the body. CONTENT_LENGTH is added with the body's size unless a line sets it.
// Lines named FUZZ_* are params too but also set up the test (see Setup below), e.g. FUZZ_SIGN
// signs the request correctly so that the handlers behind the signature check are reached.
//
// Checks: no 500 (an exception escaped a handler), a known reason phrase, every JSON body valid
// (UTF-8 included) and every error a {"error":"…"} object, 405 with Allow, no 200 on a signed
// route without a valid signature, and a CGI head with one header per line and the right
// Content-Length.
#include <fcgiapp.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fcgi/adapter.h"
#include "handlers/form.h"
#include "handlers/metrics.h"
#include "handlers/router.h"
#include "handlers/services.h"
#include "handlers/templates.h"
#include "tests/fuzz/fuzz_directory.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/unit/fake_directory.h"
#include "tests/unit/fake_optout_store.h"
#include "tests/unit/fake_outbox.h"
#include "twilio/signature.h"

namespace frontline {
namespace {

constexpr size_t kMaxParams = 64;

FakeDirectory& FixtureFakeDirectory() {
  static FakeDirectory* const kDirectory = [] {
    auto* directory = new FakeDirectory;
    for (const Customer& c : fuzz::FixtureData().customers) directory->AddCustomer(c);
    for (const Worker& w : fuzz::FixtureData().workers) directory->AddWorker(w);
    return directory;
  }();
  return *kDirectory;
}

const Templates& ExampleTemplates() {
  static const Templates* const kTemplates = [] {
    std::string error;
    std::optional<Templates> loaded =
        Templates::LoadFile(std::string(FRONTLINE_SOURCE_DIR) + "/examples/templates.json", &error);
    if (!loaded) {
      std::fprintf(stderr, "dispatch fuzz: %s\n", error.c_str());
      std::abort();
    }
    return new Templates(std::move(*loaded));
  }();
  return *kTemplates;
}

// An input stream over `body` that ends (isClosed) when the bytes are used up.
void FillAtEnd(FCGX_Stream* stream) { stream->isClosed = 1; }

// An output stream that appends to the std::string in `data` whenever its buffer fills.
void EmptyToString(FCGX_Stream* stream, int) {
  auto* out = static_cast<std::string*>(stream->data);
  unsigned char* begin = stream->stopUnget;  // unused by libfcgi for writers: our buffer
  out->append(reinterpret_cast<char*>(begin), static_cast<size_t>(stream->wrNext - begin));
  stream->wrNext = begin;
}

std::string_view ParamValue(const std::vector<std::string>& params, std::string_view name,
                            bool* present = nullptr) {
  for (const std::string& p : params) {
    std::string_view line = p;
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == '=') {
      if (present != nullptr) *present = true;
      return line.substr(name.size() + 1);
    }
  }
  if (present != nullptr) *present = false;
  return {};
}

bool Has(const std::vector<std::string>& params, std::string_view name) {
  bool present = false;
  ParamValue(params, name, &present);
  return present;
}

// The URL the router checks the signature against (SPEC §7).
std::string SignedUrl(const Request& request, const HandlerConfig& config) {
  return config.public_url.empty()
             ? RebuildSignedUrl(request.https, request.request_scheme, request.http_host,
                                request.server_name, request.server_port, request.request_uri)
             : SignedUrlFromPublicBase(config.public_url, request.request_uri);
}

bool IsErrorObject(const rapidjson::Document& doc) {
  return doc.IsObject() && doc.MemberCount() == 1 && doc.HasMember("error") &&
         doc["error"].IsString() && doc["error"].GetStringLength() > 0;
}

void CheckHead(const std::string& written, const Response& response) {
  const size_t end = written.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos, "CGI head does not end");
  const std::string head = written.substr(0, end + 2);
  size_t lines = 0;
  for (size_t at = 0; at < head.size();) {
    size_t eol = head.find("\r\n", at);
    FUZZ_CHECK(eol != std::string::npos, "head line without CRLF");
    std::string_view line(head.data() + at, eol - at);
    FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos,
               "CR or LF inside a header line: " + fuzz::Quote(line));
    FUZZ_CHECK(lines == 0 || line.find(": ") != std::string_view::npos,
               "header line without a name: " + fuzz::Quote(line));
    ++lines;
    at = eol + 2;
  }
  const bool has_body_headers = !response.body.empty() || response.status != 204;
  FUZZ_CHECK(lines == 1 + (has_body_headers ? 2 : 0) + response.headers.size(),
             "unexpected number of head lines in " + fuzz::Quote(head));
  FUZZ_CHECK(written.rfind("Status: " + std::to_string(response.status) + " ", 0) == 0,
             "head does not start with the status");
  FUZZ_CHECK(written.substr(end + 4) == response.body, "body written differently");
  if (has_body_headers) {
    FUZZ_CHECK(head.find("\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\n") !=
                   std::string::npos,
               "wrong Content-Length");
  }
}

}  // namespace
}  // namespace frontline

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace frontline;
  std::string_view input = fuzz::AsView(data, size);

  // Params up to the first empty line; the rest is the body.
  std::vector<std::string> params;
  while (!input.empty()) {
    size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
    if (line.empty()) break;
    if (params.size() < kMaxParams) params.emplace_back(line);
  }
  std::string body(input);
  if (!Has(params, "CONTENT_LENGTH"))
    params.push_back("CONTENT_LENGTH=" + std::to_string(body.size()));

  // Setup from FUZZ_* params.
  HandlerConfig config;
  config.auth_token = "fuzz-auth-token";
  config.skip_signature = Has(params, "FUZZ_SKIP_SIGNATURE");
  config.route_prefix = std::string(ParamValue(params, "FUZZ_PREFIX"));
  config.public_url = std::string(ParamValue(params, "FUZZ_PUBLIC_URL"));
  config.list_all_customers = Has(params, "FUZZ_LIST_ALL");
  config.default_worker = std::string(ParamValue(params, "FUZZ_DEFAULT_WORKER"));
  config.sms_number = Has(params, "FUZZ_NO_NUMBERS") ? "" : "+15550001111";
  config.whatsapp_number = Has(params, "FUZZ_NO_NUMBERS") ? "" : "+15550002222";
  std::string_view max_body = ParamValue(params, "FUZZ_MAX_BODY");
  if (!max_body.empty() && max_body.size() <= 6 &&
      max_body.find_first_not_of("0123456789") == std::string_view::npos) {
    config.max_body = std::stoul(std::string(max_body));
  }
  FakeOutbox outbox;
  outbox.set_fail(Has(params, "FUZZ_OUTBOX_FAIL"));
  Metrics metrics;
  metrics.RecordRequest(RouteId("/callbacks/crm", ""), 200, 120);
  metrics.RecordDelivery(Outcome::kDone);
  metrics.RecordRestCall(RestCallOutcome::kSuccess);
  FakeOptOutStore optouts;
  {
    std::string error;
    (void)optouts.MapConversation("CH1", "15558675310", "15550001111", &error);
    (void)optouts.SetOptOut("15558675310", "", true, "fuzz", &error);
  }
  optouts.set_fail(Has(params, "FUZZ_OPTOUTS_FAIL"));
  outbox.set_map_store(&optouts);
  Clock clock;
  Directory* directory = &FixtureFakeDirectory();
  if (Has(params, "FUZZ_SQLITE")) directory = &fuzz::FixtureSqliteDirectory();
  if (Has(params, "FUZZ_NO_DIRECTORY")) directory = nullptr;
  Services services{config,
                    directory,
                    Has(params, "FUZZ_BUILTIN_TEMPLATES") ? nullptr : &ExampleTemplates(),
                    Has(params, "FUZZ_NO_METRICS") ? nullptr : &metrics,
                    clock,
                    Has(params, "FUZZ_NO_OUTBOX") ? nullptr : &outbox,
                    Has(params, "FUZZ_NO_OPTOUTS") ? nullptr : &optouts};

  // The libfcgi request: envp over the params, streams over the body and the output.
  std::vector<char*> envp;
  for (std::string& p : params) envp.push_back(p.data());
  envp.push_back(nullptr);
  FCGX_Stream in{};
  in.rdNext = reinterpret_cast<unsigned char*>(body.data());
  in.stop = in.rdNext + body.size();
  in.wrNext = in.stop;
  in.stopUnget = in.rdNext;
  in.isReader = 1;
  in.fillBuffProc = &FillAtEnd;
  unsigned char out_buffer[64];
  std::string written;
  FCGX_Stream out{};
  out.rdNext = out.stop = out_buffer + sizeof out_buffer;
  out.wrNext = out.stopUnget = out_buffer;
  out.isReader = 0;
  out.emptyBuffProc = &EmptyToString;
  out.data = &written;
  FCGX_Request fcgi{};
  fcgi.in = &in;
  fcgi.out = &out;
  fcgi.envp = envp.data();
  fcgi.keepConnection = 1;

  Request request = ReadRequest(fcgi, config.max_body);
  if (Has(params, "FUZZ_SIGN")) {
    FormParams form;
    std::string error;
    if (DecodeForm(request.body, &form, &error)) {
      std::vector<std::string> urls = UrlPortVariants(SignedUrl(request, config));
      const std::string& url = ParamValue(params, "FUZZ_SIGN") == "port" ? urls.back() : urls[0];
      request.signature = ComputeTwilioSignature(config.auth_token, url, form.pairs());
    }
  }

  const Response response = Dispatch(request, services);

  FUZZ_CHECK(response.status != 500, "a handler threw: " + response.log_detail);
  FUZZ_CHECK(std::strcmp(ReasonPhrase(response.status), "Unknown") != 0,
             "status without a reason phrase: " + std::to_string(response.status));
  if (response.content_type.rfind("application/json", 0) == 0) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(response.body.data(), response.body.size());
    FUZZ_CHECK(!doc.HasParseError(), "invalid JSON answered: " + fuzz::Quote(response.body));
    if (response.status >= 400 && RouteName(request.path, config.route_prefix) != "/healthz") {
      FUZZ_CHECK(IsErrorObject(doc), "error answer is not {\"error\":…}: " + response.body);
    }
  }
  if (response.status == 405) {
    bool allow = false;
    for (const auto& [name, value] : response.headers) allow = allow || name == "Allow";
    FUZZ_CHECK(allow, "405 without Allow");
  }
  if (response.status == 200 && request.method == "POST" && !config.skip_signature) {
    FUZZ_CHECK(ValidateTwilioSignature(config.auth_token, SignedUrl(request, config),
                                       request.form.pairs(), request.signature),
               "200 to a POST without a valid signature");
  }

  FUZZ_CHECK(WriteResponse(fcgi, response), "WriteResponse failed on a working stream");
  EmptyToString(&out, 0);
  CheckHead(written, response);
  return 0;
}
