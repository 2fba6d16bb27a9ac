// Property test, part 1 of 4: random graphs 0 to 15, each with
// property::draws_per_graph random draws of shapes and values, pass gradcheck. (Split over
// four files to keep each one's compile time in check.)

#include "property_graphs.hpp"

TEST_CASE("property: random graphs 0-15 pass gradcheck", "[check][property]") {
    const std::size_t n = property::run_graphs<0>(std::make_index_sequence<16>{});
    CHECK(n == 16 * property::draws_per_graph);
}

TEST_CASE("property: at least 50 distinct graph structures", "[check][property]") {
    // Every graph of the four parts registers its type at static initialisation.
    INFO("distinct structures: " << property::structures().size());
    CHECK(property::structures().size() >= 50);
}
