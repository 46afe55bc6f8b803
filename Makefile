# PGXS build of the byo_twilio extension (C++17).
EXTENSION = byo_twilio
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = byo_twilio
CORE_SRCS = $(wildcard src/core/*.cpp)
PG_SRCS = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
# Upgrade scripts, and the full scripts of released versions (frozen: an upgrade test installs them).
DATA = $(wildcard sql/$(EXTENSION)--*--*.sql) $(wildcard sql/released/$(EXTENSION)--*.sql) sql/byo_twilio_auth_compat.sql
EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register -O2 -Isrc
PG_CPPFLAGS = -Isrc -MMD -MP
SHLIB_LINK = -lstdc++ -lcurl -lcrypto

# JIT bitcode would need clang++ for C++ sources; the extension gains nothing from it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The install script is assembled from sql/install/ in file-name order (prelude, C functions, settings,
# outbound, ..., privileges last), so each concern stays in a file a reader can hold.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
# Header dependencies (-MMD): a changed header rebuilds every object that includes it.
-include $(OBJS:.o=.d)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

# The PGXN distribution: the committed tree at HEAD as $(EXTENSION)-$(EXTVERSION).zip, every path under
# $(EXTENSION)-$(EXTVERSION)/ (test/dist/run.sh checks it and META.json).
DIST = $(EXTENSION)-$(EXTVERSION).zip
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ --output $(DIST) HEAD
.PHONY: dist
