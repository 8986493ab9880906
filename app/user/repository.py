from app.core.repository import Repository
from app.user.exceptions import EmailTakenError
from app.user.models import User


class UserRepository(Repository[User]):
    model = User
    constraint_errors = {"uq_users_tenant_id_email": EmailTakenError}
