// What a call threw, for tests that check error codes.

/** The `code` of the error `fn` throws, or 'no error'. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn()
    return 'no error'
  } catch (e) {
    return (e as { code?: string }).code
  }
}
