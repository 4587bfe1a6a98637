from django.urls import path

from keycare.web import tasks, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", tasks.task_list, name="task-list"),
]
