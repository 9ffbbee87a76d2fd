/*
 * Functions that are easy to misuse; including this header last turns any
 * use of them into a compile error (after git's banned.h).
 */
#ifndef FERRY_BANNED_H
#define FERRY_BANNED_H

#define FERRY_BANNED(func) sorry_##func##_is_banned

#undef strcpy
#define strcpy(x, y) FERRY_BANNED(strcpy)
#undef strcat
#define strcat(x, y) FERRY_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) FERRY_BANNED(strncpy)
#undef sprintf
#define sprintf(...) FERRY_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) FERRY_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) FERRY_BANNED(strtok)
#undef atoi
#define atoi(x) FERRY_BANNED(atoi)
#undef atol
#define atol(x) FERRY_BANNED(atol)
#undef gmtime
#define gmtime(x) FERRY_BANNED(gmtime)
#undef localtime
#define localtime(x) FERRY_BANNED(localtime)
#undef gets
#define gets(x) FERRY_BANNED(gets)
/* jansson can drop a key and still return text: ferry_json_dumps (json.h) */
#undef json_dumps
#define json_dumps(x, f) FERRY_BANNED(json_dumps)

#endif
