/* asl_lib.h — the Lua source of the ASL runtime (global `asl`), loaded into
 * the sandbox of runs whose program's meta has "lib": "asl". The source is
 * stdlib/asl_runtime.lua; stdlib/asl_lib.c embeds it (tests/asl/embed.sh). */
#ifndef WF_ASL_LIB_H
#define WF_ASL_LIB_H

extern const char std_asl_lua_src[];

#endif
