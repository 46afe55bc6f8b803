#include "core/message_status.hpp"

#include <gtest/gtest.h>

using byo::is_delivery_status;
using byo::status_rank;

TEST(MessageStatus, LadderOnlyGoesUp) {
    EXPECT_LT(status_rank("queued"), status_rank("sending"));
    EXPECT_LT(status_rank("sending"), status_rank("sent"));
    EXPECT_LT(status_rank("sent"), status_rank("delivered"));
    EXPECT_LT(status_rank("delivered"), status_rank("read"));
    EXPECT_EQ(status_rank("accepted"), status_rank("scheduled"));
    for (const char* final_state : {"delivered", "partially_delivered", "undelivered", "failed", "canceled"})
        EXPECT_EQ(status_rank(final_state), 4) << final_state;
}

TEST(MessageStatus, OnlyLadderStatusesApply) {
    EXPECT_TRUE(is_delivery_status("sent"));
    EXPECT_TRUE(is_delivery_status("read"));
    for (const char* other : {"received", "receiving", "unknown", "", "DELIVERED", "delivered "})
        EXPECT_FALSE(is_delivery_status(other)) << other;
}
