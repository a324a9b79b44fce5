// The package ships no types: the shape its README documents (prom2json's), as far as the tests read it.
declare module 'parse-prometheus-text-format' {
  const parse: (text: string) => {
    name: string;
    help: string;
    type: string;
    metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
  }[];
  export default parse;
}
