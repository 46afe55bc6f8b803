// CPU of the per-webhook steps handle_webhook runs in C++ before any SQL (src/core only, no PostgreSQL), for one
// inbound SMS as Twilio posts it (21 form parameters, about 590 bytes). Each step runs in a loop; the figure is
// the mean over the loop, the best of 5 loops (this machine is shared: the best loop is the least disturbed).
//
// Build: cmake --build build --target webhook_core_bench   Run: ./build/webhook_core_bench [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/envelope.hpp"
#include "core/keyring.hpp"
#include "core/signature.hpp"
#include "core/webhook_event.hpp"

using namespace byo;

namespace {

const std::string kUrl = "https://relay.example.test/twilio/1a57df895a5847479bca83d0d7e4f68b/sms";
const std::string kType = "application/x-www-form-urlencoded";
const std::string kBody =
    "ToCountry=US&ToState=CA&SmsMessageSid=SM974231883646b866a5ea3e039fd2e0a9&NumMedia=0&ToCity=&FromZip=&"
    "SmsSid=SM974231883646b866a5ea3e039fd2e0a9&FromState=CA&SmsStatus=received&FromCity=SAN+FRANCISCO&"
    "Body=Hi%2C+is+the+2+bed+on+Elm+St+still+available%3F+%230&FromCountry=US&To=%2B15005550006&"
    "MessagingServiceSid=MGa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1&ToZip=&NumSegments=1&ReferralNumMedia=0&"
    "MessageSid=SM974231883646b866a5ea3e039fd2e0a9&AccountSid=ACa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1&"
    "From=%2B14155550000&ApiVersion=2010-04-01";
const std::string kToken = "0123456789abcdef0123456789abcdef";  // a made-up token, not a secret

volatile std::size_t g_sink = 0;  // keeps the optimizer from dropping the work

template <typename F>
double best_mean_us(long iterations, F&& step) {
    double best = 1e300;
    for (int round = 0; round < 5; ++round) {
        const auto start = std::chrono::steady_clock::now();
        for (long i = 0; i < iterations; ++i) step();
        const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
        best = std::min(best, took.count() / static_cast<double>(iterations));
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: webhook_core_bench [iterations > 0]\n");
        return 2;
    }
    const Keyring ring = Keyring::parse("k1:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    const std::string context = envelope_context("00000000-0000-0000-0000-00000000be7c", "ACa1");
    const Bytes envelope = seal_envelope(ring.current(), kToken, context);
    const WebhookParams params = WebhookParams::parse(kType, kBody);
    const SignatureCheck check(kUrl, params.form());
    const std::string signature = compute_signature(kToken, kUrl, params.form());
    if (!check.matches(kToken, signature)) {
        std::fprintf(stderr, "the signature does not validate: the benchmark is wrong\n");
        return 1;
    }

    std::printf("| step (one inbound SMS) | µs |\n|---|---|\n");
    const auto row = [](const char* step, double us) { std::printf("| %s | %.2f |\n", step, us); };
    row("parse the form body into params",
        best_mean_us(n, [&] { g_sink += WebhookParams::parse(kType, kBody).has("Body"); }));
    row("params as JSON (the params column)", best_mean_us(n, [&] { g_sink += params.to_json().size(); }));
    row("kind, event type, dedupe key", best_mean_us(n, [&] {
            const WebhookKind kind = *webhook_kind(params);
            g_sink += webhook_dedupe_key(kind, params, kBody).size() + webhook_event_type(params)->size();
        }));
    row("signed data: params sorted, both URL variants", best_mean_us(n, [&] {
            const SignatureCheck c(kUrl, params.form());
            g_sink += 1;
        }));
    row("HMAC-SHA1 of both variants, compared", best_mean_us(n, [&] { g_sink += check.matches(kToken, signature); }));
    row("open the token's envelope (once per call in a batch)",
        best_mean_us(n, [&] { g_sink += open_envelope(ring, envelope, context).size(); }));
    return 0;
}
