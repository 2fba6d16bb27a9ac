// Catch2's main, compiled once (an OBJECT library linked into every test executable).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
