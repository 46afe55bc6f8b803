// PostgreSQL's binary wire form of a one-dimensional text[] (what array_recv reads): the relay sends
// handle_webhooks its four arrays this way, so the server copies each element instead of scanning a quoted
// literal of every body in the batch.
#pragma once
#include <string>
#include <vector>

namespace byo::relay {

// nullptr elements are SQL NULL. An empty vector is an empty array. Pointers, so a batch's bodies are copied once,
// into the result.
std::string text_array_binary(const std::vector<const std::string*>& values);

}  // namespace byo::relay
