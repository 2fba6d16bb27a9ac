// Gradient laws, part 3 of 4: the ops of the registry at index 2 modulo 4 (op_laws.hpp).

#include "op_laws.hpp"

FUSEGRAD_OP_LAWS_PART(2)
