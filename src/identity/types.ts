/** A short-lived AWS identity minted for one scope (SPEC §5). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** Where a request goes upstream (STS for the minter, the service for a target), from the broker's own endpoint table (never from the client). */
export interface Endpoint {
  /** Scheme, host and port, e.g. `https://s3.us-east-1.amazonaws.com` or `http://127.0.0.1:5000`. */
  readonly origin: string;
  readonly signingRegion: string;
  readonly signingService: string;
}
