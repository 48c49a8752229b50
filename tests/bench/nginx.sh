# Sourced by the benchmark scripts: the one nginx configuration they serve files with
# (sendfile, keep-alive, TLS 1.3 with a fresh self-signed certificate, on loopback only).
#
# start_nginx WORK HTTP_PORT HTTPS_PORT: serves WORK/www on 127.0.0.1 (a port of 0 is not
# listened on); writes WORK/tls/cert.pem (the CA to trust) and runs nginx in the background,
# its pid in $nginx_pid. WORK/nginx and WORK/tls must exist.
start_nginx() {
  local work=$1 http_port=$2 https_port=$3 listen=""
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
  ((http_port)) && listen+="    listen 127.0.0.1:$http_port;"$'\n'
  ((https_port)) && listen+="    listen 127.0.0.1:$https_port ssl;"$'\n'
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
$listen    ssl_certificate $work/tls/cert.pem;
    ssl_certificate_key $work/tls/key.pem;
    ssl_protocols TLSv1.3;
    root $work/www;
  }
}
CONF
  /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/out.log" 2>&1 &
  nginx_pid=$!
}
