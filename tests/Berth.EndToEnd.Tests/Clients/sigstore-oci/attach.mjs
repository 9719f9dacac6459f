// Attaches one artifact to an image with @sigstore/oci, as GitHub's artifact attestations do: the library uploads
// the artifact and an empty config, pushes an OCI manifest whose subject is the image and whose artifactType is the
// artifact's media type, then checks for the referrers API (falling back to the referrers tag schema without it).
// @sigstore/oci 0.6.0 requires promise-retry without declaring it; package.json adds it.
// Usage: node attach.mjs HOST:PORT/REPOSITORY IMAGE_DIGEST ARTIFACT_MEDIA_TYPE FILE
import { readFile } from 'node:fs/promises';
import { attachArtifactToImage } from '@sigstore/oci';

const [imageName, imageDigest, mediaType, file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node attach.mjs HOST:PORT/REPOSITORY IMAGE_DIGEST ARTIFACT_MEDIA_TYPE FILE');
  process.exit(2);
}

try {
  const descriptor = await attachArtifactToImage({
    imageName,
    imageDigest,
    mediaType,
    artifact: await readFile(file),
    annotations: { 'org.example.berth-e2e': 'attached' },
  });
  // The pushed manifest's descriptor, for the test to check against the registry.
  console.log(JSON.stringify(descriptor));
} catch (error) {
  console.error(error);
  if (error.cause) {
    console.error('cause:', error.cause);
  }
  process.exit(1);
}
