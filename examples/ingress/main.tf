# `homelab ingress lint examples/ingress` checks call sites like these: auth = "app" or
# "none" must say what gates the app.
module "ingress_photos" {
  source          = "../../modules/kubernetes/ingress_factory"
  name            = "photos"
  namespace       = "immich"
  tls_secret_name = var.tls_secret_name
  # Immich's own login gates the app
  auth = "app"
}

module "ingress_blog" {
  source          = "../../modules/kubernetes/ingress_factory"
  name            = "blog"
  namespace       = "blog"
  tls_secret_name = var.tls_secret_name
  auth            = "none" # public content site; Anubis is the gate against scrapers
}
