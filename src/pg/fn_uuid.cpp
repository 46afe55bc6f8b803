// SQL: twilio._uuid_v7() (internal), the default id of messages and conversations (core/uuid_v7.hpp says why).
#include <time.h>

#include <cstring>

#include "core/uuid_v7.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "utils/uuid.h"

PG_FUNCTION_INFO_V1(byo_uuid_v7);
}

using namespace byo;
using namespace byo::pg;

// _uuid_v7() returns uuid: increasing within a session; across sessions, ordered by the clock to 1/4096 ms.
extern "C" Datum byo_uuid_v7(PG_FUNCTION_ARGS) {
    return guard([&]() -> Datum {
        static UuidV7Generator generator;  // one per backend process
        timespec now{};
        clock_gettime(CLOCK_REALTIME, &now);
        const std::uint64_t ns = static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull +
                                 static_cast<std::uint64_t>(now.tv_nsec);
        const Uuid id = generator.next(ns, uuid_random_bits());
        pg_uuid_t* out = nullptr;
        pg_call([&] { out = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t))); });
        std::memcpy(out->data, id.data(), id.size());
        return UUIDPGetDatum(out);
    });
}
