"""One module per route group; each builds an APIRouter over what it needs."""
