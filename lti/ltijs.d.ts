// ltijs ships no types; lti/provider.ts describes the slice of its Provider we use.
declare module 'ltijs' {
  const ltijs: { Provider: object };
  export = ltijs;
}
