/*
 * atomics.h - the few atomic operations lib/ needs on words in shared
 * memory, every one sequentially consistent.
 *
 * These are compiler features, not OS ones: GCC/Clang __atomic builtins,
 * and MSVC's _Interlocked intrinsics (cl.exe's C has no <stdatomic.h>
 * before VS 2022 17.5, and then only behind /experimental:c11atomics);
 * clang-cl takes the MSVC branch too, which is how scripts/msvc-check.sh
 * checks it.  It lives in platform/ beside the seam because it chooses by
 * compiler: lib/ holds no conditionals of that kind.
 * The words are plain uint32_t / uint64_t so the same layout is seen by
 * every process that maps the block.
 */
#ifndef MPROC_ATOMICS_H
#define MPROC_ATOMICS_H

#include <stdint.h>

#if defined(_MSC_VER)
/* The intrinsics' own declarations (as <intrin.h> has them). */
long _InterlockedOr(long volatile *p, long v);
long _InterlockedExchange(long volatile *p, long v);
long _InterlockedExchangeAdd(long volatile *p, long v);
long _InterlockedCompareExchange(long volatile *p, long x, long cmp);
long long _InterlockedExchange64(long long volatile *p, long long v);
long long _InterlockedCompareExchange64(long long volatile *p, long long x,
                                        long long cmp);
#pragma intrinsic(_InterlockedOr, _InterlockedExchange,                   \
                  _InterlockedExchangeAdd, _InterlockedCompareExchange,   \
                  _InterlockedExchange64, _InterlockedCompareExchange64)
#if defined(_M_X64) || defined(_M_IX86)
void _mm_pause(void);
#pragma intrinsic(_mm_pause)
/* A hint to the CPU inside a spin-wait loop. */
#define mproc__cpu_relax() _mm_pause()
#else
#define mproc__cpu_relax() ((void)0)
#endif

static inline uint32_t mproc__ld32(volatile uint32_t *p) {
  return (uint32_t)_InterlockedOr((volatile long *)p, 0);
}
static inline void mproc__st32(volatile uint32_t *p, uint32_t v) {
  _InterlockedExchange((volatile long *)p, (long)v);
}
static inline uint32_t mproc__xchg32(volatile uint32_t *p, uint32_t v) {
  return (uint32_t)_InterlockedExchange((volatile long *)p, (long)v);
}
/* Plain (relaxed) access, for words only their owner thread relies on. */
static inline uint32_t mproc__ld32_relaxed(volatile uint32_t *p) {
  return *p;
}
static inline void mproc__st32_relaxed(volatile uint32_t *p, uint32_t v) {
  *p = v;
}
/* An aligned 64-bit store is one instruction on x64 and ARM64. */
static inline void mproc__st64_relaxed(volatile uint64_t *p, uint64_t v) {
  *p = v;
}
/* Release: earlier writes are visible before this one (volatile stores
 * have release semantics under MSVC's default /volatile:ms). */
static inline void mproc__st64_release(volatile uint64_t *p, uint64_t v) {
  *p = v;
}
/* Returns the new value. */
static inline uint32_t mproc__add32(volatile uint32_t *p, uint32_t v) {
  return (uint32_t)_InterlockedExchangeAdd((volatile long *)p, (long)v) + v;
}
/* 1 if *p was *expect and is now desired; else 0 and *expect = *p. */
static inline int mproc__cas32(volatile uint32_t *p, uint32_t *expect,
                                 uint32_t desired) {
  uint32_t old = (uint32_t)_InterlockedCompareExchange(
      (volatile long *)p, (long)desired, (long)*expect);
  if (old == *expect)
    return 1;
  *expect = old;
  return 0;
}
static inline uint64_t mproc__ld64(volatile uint64_t *p) {
  return (uint64_t)_InterlockedCompareExchange64((volatile long long *)p, 0, 0);
}
static inline uint64_t mproc__xchg64(volatile uint64_t *p, uint64_t v) {
  return (uint64_t)_InterlockedExchange64((volatile long long *)p, (long long)v);
}
static inline int mproc__cas64(volatile uint64_t *p, uint64_t *expect,
                                 uint64_t desired) {
  uint64_t old = (uint64_t)_InterlockedCompareExchange64(
      (volatile long long *)p, (long long)desired, (long long)*expect);
  if (old == *expect)
    return 1;
  *expect = old;
  return 0;
}

#else /* GCC, Clang */

#define MPROC__SC __ATOMIC_SEQ_CST
#if defined(__x86_64__) || defined(__i386__)
#define mproc__cpu_relax() __builtin_ia32_pause()
#else
#define mproc__cpu_relax() ((void)0)
#endif
static inline uint32_t mproc__ld32(volatile uint32_t *p) {
  return __atomic_load_n(p, MPROC__SC);
}
static inline void mproc__st32(volatile uint32_t *p, uint32_t v) {
  __atomic_store_n(p, v, MPROC__SC);
}
static inline uint32_t mproc__xchg32(volatile uint32_t *p, uint32_t v) {
  return __atomic_exchange_n(p, v, MPROC__SC);
}
static inline uint32_t mproc__ld32_relaxed(volatile uint32_t *p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void mproc__st32_relaxed(volatile uint32_t *p, uint32_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void mproc__st64_relaxed(volatile uint64_t *p, uint64_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void mproc__st64_release(volatile uint64_t *p, uint64_t v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint32_t mproc__add32(volatile uint32_t *p, uint32_t v) {
  return __atomic_add_fetch(p, v, MPROC__SC);
}
static inline int mproc__cas32(volatile uint32_t *p, uint32_t *expect,
                               uint32_t desired) {
  return __atomic_compare_exchange_n(p, expect, desired, 0, MPROC__SC,
                                     MPROC__SC);
}
static inline uint64_t mproc__ld64(volatile uint64_t *p) {
  return __atomic_load_n(p, MPROC__SC);
}
static inline uint64_t mproc__xchg64(volatile uint64_t *p, uint64_t v) {
  return __atomic_exchange_n(p, v, MPROC__SC);
}
static inline int mproc__cas64(volatile uint64_t *p, uint64_t *expect,
                               uint64_t desired) {
  return __atomic_compare_exchange_n(p, expect, desired, 0, MPROC__SC,
                                     MPROC__SC);
}
#endif

#endif /* MPROC_ATOMICS_H */
