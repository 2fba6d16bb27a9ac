// Property test, part 4 of 4: random graphs 48 to 63, each with
// property::draws_per_graph random draws of shapes and values, pass gradcheck. (Split over
// four files to keep each one's compile time in check.)

#include "property_graphs.hpp"

TEST_CASE("property: random graphs 48-63 pass gradcheck", "[check][property]") {
    const std::size_t n = property::run_graphs<48>(std::make_index_sequence<16>{});
    CHECK(n == 16 * property::draws_per_graph);
}
