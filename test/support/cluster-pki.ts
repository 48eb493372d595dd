import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

/**
 * The certificates a test control plane needs, as kubeadm lays them out: a cluster CA (apiserver serving
 * certificate, client certificates for the admin and kube-controller-manager), a separate front-proxy CA (the
 * aggregator's client certificate, which aggregated API servers such as prescale trust through the
 * request-header ConfigMap), and the service-account signing key pair.
 */
export interface ClusterPki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly kcmCert: string;
  readonly kcmKey: string;
  readonly frontProxyCaCert: string;
  readonly frontProxyClientCert: string;
  readonly frontProxyClientKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

interface Issuer {
  readonly cert: forge.pki.Certificate;
  readonly key: forge.pki.rsa.PrivateKey;
}

function keyPair(): { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; pem: string; pubPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { priv, pub: forge.pki.setRsaPublicKey(priv.n, priv.e), pem, pubPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function sign(o: { cn: string; org?: string; pub: forge.pki.rsa.PublicKey; selfKey?: forge.pki.rsa.PrivateKey; issuer?: Issuer; extensions: object[] }): forge.pki.Certificate {
  const c = forge.pki.createCertificate();
  c.publicKey = o.pub;
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  c.serialNumber = serial.toString('hex');
  const now = Date.now();
  c.validity.notBefore = new Date(now - 3_600_000);
  c.validity.notAfter = new Date(now + 30 * 86_400_000);
  const subject = [{ name: 'commonName', value: o.cn }, ...(o.org ? [{ name: 'organizationName', value: o.org }] : [])];
  c.setSubject(subject);
  c.setIssuer(o.issuer ? o.issuer.cert.subject.attributes : subject);
  c.setExtensions([...o.extensions, { name: 'subjectKeyIdentifier' }]);
  const signer = o.issuer?.key ?? o.selfKey;
  if (!signer) throw new Error('sign: no issuer and no self key');
  c.sign(signer, forge.md.sha256.create());
  return c;
}

function ca(cn: string): Issuer & { pem: string; keyPem: string } {
  const k = keyPair();
  const cert = sign({
    cn,
    pub: k.pub,
    selfKey: k.priv,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert, key: k.priv, pem: forge.pki.certificateToPem(cert), keyPem: k.pem };
}

/** A client certificate: Kubernetes reads the user from CN and the groups from O. */
function client(issuer: Issuer, cn: string, org?: string): { cert: string; key: string } {
  const k = keyPair();
  const cert = sign({
    cn,
    org,
    pub: k.pub,
    issuer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { cert: forge.pki.certificateToPem(cert), key: k.pem };
}

function server(issuer: Issuer, cn: string, names: { dns: string[]; ips: string[] }): { cert: string; key: string } {
  const k = keyPair();
  const cert = sign({
    cn,
    pub: k.pub,
    issuer,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))] },
    ],
  });
  return { cert: forge.pki.certificateToPem(cert), key: k.pem };
}

/** Writes every file of the control plane's PKI into `dir` and returns their paths. */
export function writeClusterPki(dir: string): ClusterPki {
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: name.endsWith('.key') ? 0o600 : 0o644 });
    return p;
  };
  const clusterCa = ca('prescale-test-cluster-ca');
  const apiserver = server(clusterCa, 'kube-apiserver', {
    dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1', '10.0.0.1'],
  });
  const admin = client(clusterCa, 'prescale-test-admin', 'system:masters');
  // The bootstrap RBAC binds the user system:kube-controller-manager to what the controller manager needs.
  const kcm = client(clusterCa, 'system:kube-controller-manager');
  const frontProxyCa = ca('prescale-test-front-proxy-ca');
  const frontProxy = client(frontProxyCa, 'front-proxy-client');
  const sa = keyPair();
  return {
    dir,
    caCert: write('ca.crt', clusterCa.pem),
    caKey: write('ca.key', clusterCa.keyPem),
    apiserverCert: write('apiserver.crt', apiserver.cert),
    apiserverKey: write('apiserver.key', apiserver.key),
    adminCert: write('admin.crt', admin.cert),
    adminKey: write('admin.key', admin.key),
    kcmCert: write('kcm.crt', kcm.cert),
    kcmKey: write('kcm.key', kcm.key),
    frontProxyCaCert: write('front-proxy-ca.crt', frontProxyCa.pem),
    frontProxyClientCert: write('front-proxy-client.crt', frontProxy.cert),
    frontProxyClientKey: write('front-proxy-client.key', frontProxy.key),
    saKey: write('sa.key', sa.pem),
    saPub: write('sa.pub', sa.pubPem),
  };
}
